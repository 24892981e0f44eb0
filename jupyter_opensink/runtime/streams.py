"""Live event streams: one bounded queue per subscriber, fed by the bus.

A subscriber that falls more than its queue behind (a slow or vanished
client) is dropped with a ``reset``; memory never grows with it. All streams
end when the server stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from .events import Event, EventBus

RESET = object()  # queue marker: the subscriber fell behind
CLOSE = object()  # queue marker: the server is stopping


@dataclass(eq=False)  # identity: each subscription is its own
class Subscription:
    queue: asyncio.Queue
    accepts: Callable[[Event], bool]
    dropped: bool = False


class EventStreams:
    def __init__(self, events: EventBus, *, queue_size: int = 1000, keepalive: float = 15.0):
        self.events = events
        self.queue_size = queue_size
        self.keepalive = keepalive
        self._subscriptions: set[Subscription] = set()
        self._unsubscribe = events.subscribe(self._on_event)
        self.closing = False

    def _on_event(self, event: Event) -> None:
        for sub in list(self._subscriptions):
            if sub.dropped or not sub.accepts(event):
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(sub, RESET)

    def _drop(self, sub: Subscription, marker: object) -> None:
        """Empty the queue and leave only the marker: the stream ends after sending it."""
        sub.dropped = True
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(marker)

    def open(self, accepts: Callable[[Event], bool]) -> Subscription:
        sub = Subscription(asyncio.Queue(maxsize=self.queue_size), accepts)
        self._subscriptions.add(sub)
        return sub

    def close(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    @property
    def count(self) -> int:
        return len(self._subscriptions)

    def close_all(self) -> None:
        """Every stream ends (server stop)."""
        self.closing = True
        for sub in list(self._subscriptions):
            self._drop(sub, CLOSE)
        self._unsubscribe()
