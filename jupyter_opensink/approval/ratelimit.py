"""Counting failed guesses per client address, so capability tokens cannot be enumerated."""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque


def client_group(address: str) -> str:
    """The key one client's failures count under: an IPv4 address, or an IPv6 address's /64.

    One IPv6 subscriber usually holds a whole /64, so counting per address would let it guess without
    limit. An IPv4-mapped IPv6 address counts as its IPv4 address; what does not parse counts as is.
    """
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class GuessLimiter:
    """At most ``limit`` failures per address in any ``window`` seconds; then ``blocked`` until they age out.

    Memory is bounded: past ``max_addresses`` the least recently seen address is forgotten.
    """

    def __init__(self, limit: int, window: float = 60.0, max_addresses: int = 10_000):
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may try again; 0 when it may now."""
        now = time.monotonic()
        times = self._recent(address, now)
        if self.limit <= 0 or times is None or len(times) < self.limit:
            return 0.0
        return max(times[-self.limit] + self.window - now, 0.001)

    def failed(self, address: str) -> None:
        now = time.monotonic()
        times = self._recent(address, now) or deque()
        times.append(now)
        while len(times) > max(self.limit, 1):
            times.popleft()
        self._failures[address] = times
        self._failures.move_to_end(address)
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)
