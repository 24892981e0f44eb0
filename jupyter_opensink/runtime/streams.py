"""Live event streams: one bounded queue per subscriber, fed by the bus.

A subscriber that falls more than its queue behind (a slow or vanished
client) is dropped with a ``reset``; memory never grows with it. All streams
end when the server stops, and a stream opened with an API key ends when that
key is revoked or expires (``credentials.CredentialWatch``). One ticker for all streams puts a keep-alive marker
in the queue of each stream that got nothing since the previous tick, so a
stream waits on its queue alone: no timer per stream per event.

An event is fanned out once, soon after it is emitted (so the write that emitted
it is not held up): a stream waiting for its next event with nothing queued
takes it at once through its ``deliver`` function, which writes a frame
prepared once for every stream that shows the event the same way; no task
wakes up for it. Only a stream that is busy (still writing, or with events
queued before) gets the event through its queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .credentials import CredentialWatch
from .events import Event, EventBus

log = logging.getLogger(__name__)

RESET = object()  # queue marker: the subscriber fell behind
CLOSE = object()  # queue marker: the server is stopping
KEEPALIVE = object()  # queue marker: the stream has been idle for a while


@dataclass(frozen=True)
class Ended:
    """Queue marker: the stream's credential was revoked or expired (``reason`` says which)."""

    reason: str


@dataclass(eq=False)  # identity: each subscription is its own
class Subscription:
    queue: asyncio.Queue
    accepts: Callable[[Event], bool]
    dropped: bool = False
    active: bool = False  # something was queued since the last keep-alive tick
    release: Callable[[], None] | None = None  # lets go of the credential hold
    #: Set by the stream while it waits on an empty queue: takes an event directly (True) or declines it
    #: (False: it is queued). The dict is shared by the streams for one event, to prepare its frames once.
    deliver: Callable[[Event, dict], bool] | None = None
    after: int = 0  # the last event emitted before the subscription opened: those are not its own
    #: Events delivered directly in this loop iteration: they count against the queue's size, as they
    #: would have if queued, so a burst larger than the queue still ends the stream with a reset.
    backlog: int = 0


class EventStreams:
    def __init__(self, events: EventBus, *, queue_size: int = 1000, keepalive: float = 15.0,
                 credentials: CredentialWatch | None = None):
        self.events = events
        self.credentials = credentials or CredentialWatch(events)
        self.queue_size = queue_size
        self.keepalive = keepalive
        self._subscriptions: set[Subscription] = set()
        self._unsubscribe = events.subscribe(self._on_event)
        self.closing = False
        self._ticker: asyncio.TimerHandle | None = None
        self._backlogged: list[Subscription] = []  # whose backlog the end of this loop iteration clears

    def _on_event(self, event: Event) -> None:
        if not self._subscriptions:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # emitted outside the loop: nothing can be waiting, fan out now
            self._fan_out(event)
        else:
            loop.call_soon(self._fan_out, event)

    def _fan_out(self, event: Event) -> None:
        if self.closing:
            return
        shared: dict = {}  # the event's frames, prepared once for every stream showing it the same way
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # emitted by synchronous code between loop runs: every stream gets it queued (a
            loop = None       # direct delivery counts until the end of a loop iteration, and none is running)
        for sub in list(self._subscriptions):
            if sub.dropped or event.seq <= sub.after or not sub.accepts(event):
                continue
            deliver = sub.deliver
            if deliver is not None and loop is not None and sub.queue.empty():
                if sub.backlog >= self.queue_size:
                    self._drop(sub, RESET)
                    continue
                try:
                    delivered = deliver(event, shared)
                except Exception:  # a bug in a stream's direct path: it still gets the event, queued
                    log.exception("direct delivery of %s failed", event.type)
                    sub.deliver = delivered = None
                if delivered:
                    sub.active = True
                    if not sub.backlog:
                        if not self._backlogged:
                            loop.call_soon(self._settle)
                        self._backlogged.append(sub)
                    sub.backlog += 1
                    continue
            try:
                sub.queue.put_nowait(event)
                sub.active = True
            except asyncio.QueueFull:
                self._drop(sub, RESET)

    def _settle(self) -> None:
        """End of the loop iteration: the streams had their turn, direct deliveries no longer count."""
        for sub in self._backlogged:
            sub.backlog = 0
        self._backlogged = []

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
        sub.deliver = None
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(marker)

    def open(self, accepts: Callable[[Event], bool], *, key_id: str | None = None,
             expires_at: float | None = None) -> Subscription:
        """A new subscription; with ``key_id`` it ends (an ``Ended`` marker) when that key is revoked or
        expires at ``expires_at`` (Unix time)."""
        sub = Subscription(asyncio.Queue(maxsize=self.queue_size), accepts, after=self.events.last_seq)
        self._subscriptions.add(sub)
        sub.release = self.credentials.hold(key_id, expires_at, lambda reason: self._end(sub, reason))
        if self._ticker is None and not self.closing:
            self._ticker = asyncio.get_running_loop().call_later(self.keepalive, self._tick)
        return sub

    def _end(self, sub: Subscription, reason: str) -> None:
        if not sub.dropped:
            self._drop(sub, Ended(reason))

    def close(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)
        if sub.release is not None:
            sub.release()
            sub.release = None

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
