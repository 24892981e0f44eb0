"""Outbound HTTP for execution-endpoint callbacks and background jobs.

One shared ``httpx.AsyncClient`` over an aiohttp transport (pooled connections, no redirects,
see ``transport.py``), a URL
policy checked against the address the name resolves to at send time (the
request then goes to that very address, so a DNS answer cannot change
between the check and the connection), Standard Webhooks signatures, and a
bounded read of the reply.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import os
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

DEFAULT_ALLOWED = ("0.0.0.0/0", "::/0")
#: Link-local (cloud metadata lives there: 169.254.169.254) and the IPv6 metadata address.
DEFAULT_BLOCKED = ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128")
MAX_REPLY_BYTES = 64 * 1024
#: Connections kept open at most (across targets): as many as a due second's requests to one target in
#: benchmarks/cron.py (100 jobs), so they all go out at once. aiohttp's pool is keyed by address, port and
#: TLS settings, so its size does not slow each request down (httpcore's did: it was 24).
MAX_CONNECTIONS = 100
KEEPALIVE_SECONDS = 5.0
USER_AGENT = "jupyter-opensink"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str], setting: str) -> list[Network]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"{setting}: {value!r} is not a network (e.g. 10.0.0.0/8)") from None
    return networks


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` over ``id.timestamp.body`` (Standard Webhooks)."""
    key = secret.split("_", 1)[1] if secret.startswith("whsec_") else secret
    try:
        key_bytes = base64.b64decode(key, validate=True)
    except ValueError:
        key_bytes = secret.encode()
    mac = hmac.new(key_bytes, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


@lru_cache(maxsize=4)
def trust(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """The TLS context outbound calls verify servers with: httpx's own (certifi, or the bundle or directory
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` name), made once per process for each setting of those two. Parsing
    the CA bundle takes 20 to 30 ms; a context is only read once made, so clients may share it."""
    return httpx.create_ssl_context()


@dataclass
class Outcome:
    """What happened to one outbound request."""

    url: str
    method: str
    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.error is None


class Blocked(Exception):
    pass


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: IPv6 prefixes whose last 32 bits are an IPv4 address the packets end up at: NAT64's well-known and
#: local-use prefixes (RFC 6052, RFC 8215) and the deprecated IPv4-compatible form (``::a.b.c.d``).
_IPV4_IN_LAST_32_BITS = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96"))
#: Where the unspecified address takes a connection on Linux and the BSDs: this host's loopback.
_UNSPECIFIED_REACHES = {4: ipaddress.ip_address("127.0.0.1"), 6: ipaddress.ip_address("::1")}


def reached_addresses(ip: IPAddress) -> list[IPAddress]:
    """Every address a connection to ``ip`` reaches, for the URL policy to check each one.

    An IPv4-mapped IPv6 address (``::ffff:169.254.169.254``) is its IPv4 address: the kernel sends
    it as IPv4. NAT64, 6to4 and Teredo addresses carry an IPv4 address the traffic is relayed to,
    so both count. The unspecified address (``0.0.0.0``, ``::``) connects to loopback, so it
    counts as loopback. Without this, a blocked IPv4 range is reached through its IPv6 spellings.
    """
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return reached_addresses(ip.ipv4_mapped)
        embedded: list[IPAddress] = []
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.append(ip.teredo[1])
        if ip != ipaddress.IPv6Address("::1") and any(ip in net for net in _IPV4_IN_LAST_32_BITS):
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        reached = [_UNSPECIFIED_REACHES[6] if ip.is_unspecified else ip]
        for inner in embedded:
            reached += reached_addresses(inner)
        return reached
    return [_UNSPECIFIED_REACHES[4] if ip.is_unspecified else ip]


def _connect_reason(exc: BaseException) -> str:
    """The operating system's reason ("connection refused"...) or the TLS one behind a connect error."""
    seen: BaseException | None = exc
    while seen is not None:
        # An SSL error's errno is OpenSSL's, not the system's. (aiohttp's own TLS errors are SSL errors
        # without these attributes; the one they wrap has them.)
        if isinstance(seen, ssl.SSLError):
            if getattr(seen, "verify_message", None):
                return f"certificate verify failed: {seen.verify_message}"
            if getattr(seen, "reason", None):
                return f"TLS handshake failed: {seen.reason}"
        elif isinstance(seen, OSError) and seen.errno:
            return os.strerror(seen.errno).lower()
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


class Outbound:
    def __init__(self, *, timeout: float, allowed: Iterable[str] = DEFAULT_ALLOWED,
                 blocked: Iterable[str] = DEFAULT_BLOCKED):
        self.timeout = timeout
        self.allowed = parse_networks(allowed, "allowed networks")
        self.blocked = parse_networks(blocked, "blocked networks")
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # made lazily: it must belong to the running loop
            limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS,
                                  keepalive_expiry=KEEPALIVE_SECONDS)
            # Imported here: importing the package (the server's CLI, a kernel) does not import aiohttp (~0.3 s).
            from .transport import AiohttpTransport, OutboundClient

            # The same TLS trust as httpx's own transport (certifi, or SSL_CERT_FILE / SSL_CERT_DIR).
            transport = AiohttpTransport(max_connections=MAX_CONNECTIONS, keepalive_seconds=KEEPALIVE_SECONDS,
                                         ssl_context=trust(os.environ.get("SSL_CERT_FILE"),
                                                           os.environ.get("SSL_CERT_DIR")))
            # ``limits`` serves the transports httpx mounts for proxies named in the environment.
            self._client = OutboundClient(
                follow_redirects=False, timeout=httpx.Timeout(self.timeout), limits=limits, transport=transport,
                headers={"User-Agent": USER_AGENT})
        return self._client

    def permitted(self, address: str) -> bool:
        """Whether a connection to ``address`` may be made: every address it reaches is allowed
        and none is blocked (see :func:`reached_addresses`)."""
        reached = reached_addresses(ipaddress.ip_address(address.split("%", 1)[0]))
        if any(ip in net for ip in reached for net in self.blocked if net.version == ip.version):
            return False
        return all(any(ip in net for net in self.allowed if net.version == ip.version) for ip in reached)

    async def _resolve(self, host: str, port: int) -> str:
        """The address to connect to; every address the name has must be permitted."""
        try:
            addresses = [ipaddress.ip_address(host).compressed]
        except ValueError:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:
            if not self.permitted(address):
                raise Blocked(address)
        return addresses[0]

    async def send(self, method: str, url: str, *, headers: Mapping[str, str], body: Any | None,
                   secret: str | None = None, message_id: str | None = None) -> Outcome:
        """Send once (no retry, no redirect); never raises: whatever fails is in the Outcome, so the
        caller can always record the attempt and fail its session or run with the reason."""
        started = time.perf_counter()
        try:
            return await self._send(method, url, headers, body, secret, message_id, started)
        except Exception as exc:  # a value stored before it was refused, an odd URL: this call failed
            return Outcome(url, method, None, f"the request could not be made: {type(exc).__name__}: {exc}",
                           round((time.perf_counter() - started) * 1000, 2))

    async def _send(self, method: str, url: str, headers: Mapping[str, str], body: Any | None,
                    secret: str | None, message_id: str | None, started: float) -> Outcome:
        payload = orjson.dumps(body) if body is not None else b""
        sent_headers = {**headers, "Content-Type": "application/json"}
        if secret is not None and message_id is not None:
            timestamp = int(time.time())
            sent_headers.update({"webhook-id": message_id, "webhook-timestamp": str(timestamp),
                                 "webhook-signature": sign(secret, message_id, timestamp, payload)})

        def outcome(status: int | None, error: str | None) -> Outcome:
            return Outcome(url, method, status, error, round((time.perf_counter() - started) * 1000, 2))

        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            address = await self._resolve(host, port)
        except Blocked as exc:
            return outcome(None, f"{host} resolves to {exc.args[0]}, which the callback URL policy blocks")
        except OSError as exc:
            return outcome(None, f"could not resolve {host}: {exc.strerror or exc}")
        target = httpx.URL(url)
        extensions = {}
        if address != host:
            target = target.copy_with(host=address)
            sent_headers.setdefault("Host", parts.netloc.rsplit("@", 1)[-1])
            if parts.scheme == "https":
                extensions["sni_hostname"] = host
        request = self.client.build_request(method, target, headers=sent_headers,
                                            content=payload if body is not None else None,
                                            extensions=extensions)
        try:
            response = await self.client.send(request, stream=True)
            try:
                received = 0
                async for chunk in response.aiter_raw():
                    received += len(chunk)
                    if received > MAX_REPLY_BYTES:
                        break  # we never need more of the reply
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            return outcome(None, f"timed out after {self.timeout:g} s")
        except httpx.ConnectError as exc:
            return outcome(None, f"could not connect: {_connect_reason(exc)}")
        except httpx.HTTPError as exc:
            return outcome(None, f"request failed: {exc or type(exc).__name__}")
        if not 200 <= response.status_code < 300:
            return outcome(response.status_code,
                           f"answered {response.status_code} {response.reason_phrase}".rstrip())
        return outcome(response.status_code, None)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
