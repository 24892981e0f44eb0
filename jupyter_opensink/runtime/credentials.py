"""Ends what an API key still holds open once the key is revoked or expires.

A new request with a revoked or expired key is refused when it is
authenticated; what was opened before (a live event stream, an MCP session, a
tool call waiting for a human) would otherwise outlive the key. Each such
thing takes a *hold* on its key here, with the function that ends it:

- revocation is an event on the bus (``api_key.revoked``), so a key revoked on
  another server sharing the database ends the holds here too (the relay
  emits it on this server);
- expiry is one timer per hold at the key's ``expires_at``.

Revocations are remembered for a while, so a hold taken by a request that
authenticated just before the key was revoked ends at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from .events import Event, EventBus

log = logging.getLogger(__name__)

KEY_REVOKED = "api_key.revoked"
REVOKED, EXPIRED = "the API key was revoked", "the API key expired"
REMEMBERED = 4096  # revoked key ids kept to refuse holds that arrive late


@dataclass(eq=False)
class _Hold:
    key_id: str
    end: Callable[[str], None]
    timer: asyncio.TimerHandle | None = None


class CredentialWatch:
    def __init__(self, events: EventBus):
        self._holds: dict[str, set[_Hold]] = {}
        self._revoked: OrderedDict[str, None] = OrderedDict()
        self._unsubscribe = events.subscribe(self._on_event)

    def hold(self, key_id: str | None, expires_at: float | None, end: Callable[[str], None]) -> Callable[[], None]:
        """Calls ``end(reason)`` once when the key is revoked or expires; returns the release function.

        ``expires_at`` is a Unix time. Without a key (the Jupyter user, a sink secret) nothing is held.
        """
        if key_id is None:
            return _nothing
        hold = _Hold(key_id, end)
        if key_id in self._revoked:
            self._end(hold, REVOKED)
            return _nothing
        if expires_at is not None:
            loop = asyncio.get_running_loop()
            hold.timer = loop.call_later(max(0.0, expires_at - time.time()), self._end, hold, EXPIRED)
        self._holds.setdefault(key_id, set()).add(hold)
        return lambda: self._release(hold)

    @property
    def count(self) -> int:
        return sum(len(holds) for holds in self._holds.values())

    def _release(self, hold: _Hold) -> None:
        if hold.timer is not None:
            hold.timer.cancel()
            hold.timer = None
        holds = self._holds.get(hold.key_id)
        if holds is not None:
            holds.discard(hold)
            if not holds:
                del self._holds[hold.key_id]

    def _end(self, hold: _Hold, reason: str) -> None:
        self._release(hold)
        try:
            hold.end(reason)
        except Exception:  # one failing holder must not keep the others open
            log.exception("could not end what API key %s held open", hold.key_id)

    def _on_event(self, event: Event) -> None:
        if event.type != KEY_REVOKED:
            return
        key_id = event.data.get("id")
        if not isinstance(key_id, str):
            return
        self._revoked[key_id] = None
        while len(self._revoked) > REMEMBERED:
            self._revoked.popitem(last=False)
        for hold in list(self._holds.get(key_id, ())):
            self._end(hold, REVOKED)

    def close(self) -> None:
        self._unsubscribe()
        for holds in list(self._holds.values()):
            for hold in list(holds):
                self._release(hold)


def _nothing() -> None:
    return None
