"""Live event streams: one bounded queue per subscriber, fed by the bus.

A subscriber that falls more than its queue behind (a slow or vanished
client) is dropped with a ``reset``; memory never grows with it. All streams
end when the server stops. One ticker for all streams puts a keep-alive marker
in the queue of each stream that got nothing since the previous tick, so a
stream waits on its queue alone: no timer per stream per event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from .events import Event, EventBus

RESET = object()  # queue marker: the subscriber fell behind
CLOSE = object()  # queue marker: the server is stopping
KEEPALIVE = object()  # queue marker: the stream has been idle for a while


@dataclass(eq=False)  # identity: each subscription is its own
class Subscription:
    queue: asyncio.Queue
    accepts: Callable[[Event], bool]
    dropped: bool = False
    active: bool = False  # something was queued since the last keep-alive tick


class EventStreams:
    def __init__(self, events: EventBus, *, queue_size: int = 1000, keepalive: float = 15.0):
        self.events = events
        self.queue_size = queue_size
        self.keepalive = keepalive
        self._subscriptions: set[Subscription] = set()
        self._unsubscribe = events.subscribe(self._on_event)
        self.closing = False
        self._ticker: asyncio.TimerHandle | None = None

    def _on_event(self, event: Event) -> None:
        for sub in list(self._subscriptions):
            if sub.dropped or not sub.accepts(event):
                continue
            try:
                sub.queue.put_nowait(event)
                sub.active = True
            except asyncio.QueueFull:
                self._drop(sub, RESET)

    def _tick(self) -> None:
        self._ticker = None
        if self.closing:
            return
        for sub in list(self._subscriptions):
            if not sub.active and not sub.dropped and sub.queue.empty():
                sub.queue.put_nowait(KEEPALIVE)
            sub.active = False
        if self._subscriptions:
            self._ticker = asyncio.get_running_loop().call_later(self.keepalive, self._tick)

    def _drop(self, sub: Subscription, marker: object) -> None:
        """Empty the queue and leave only the marker: the stream ends after sending it."""
        sub.dropped = True
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(marker)

    def open(self, accepts: Callable[[Event], bool]) -> Subscription:
        sub = Subscription(asyncio.Queue(maxsize=self.queue_size), accepts)
        self._subscriptions.add(sub)
        if self._ticker is None and not self.closing:
            self._ticker = asyncio.get_running_loop().call_later(self.keepalive, self._tick)
        return sub

    def close(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    @property
    def count(self) -> int:
        return len(self._subscriptions)

    def close_all(self) -> None:
        """Every stream ends (server stop)."""
        self.closing = True
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for sub in list(self._subscriptions):
            self._drop(sub, CLOSE)
        self._unsubscribe()
