"""The in-process event bus: every state change is announced here.

Subscribers (the live event stream, the callback dispatcher, the scheduler,
...) are plain callables run synchronously on the event loop; they must not
block. A subscriber that raises is logged and kept, so one bad consumer
cannot stop the others or the write that emitted the event.

The bus keeps the last events in a bounded replay buffer so a stream can
resume after a disconnect. Event ids are ``<boot>:<seq>``: a new boot token
per server run, so an id from before a restart is recognised as unknown.

The buffer keeps each event as a tuple of atoms with its data as JSON bytes,
not as the ``Event`` and its dicts: the cyclic garbage collector stops
tracking such a tuple at its first collection, so a full buffer adds nothing
to the heap the collector walks (three tracked objects per event did: a full
collection of a 10,000-event buffer on a busy server stalled the loop for
hundreds of milliseconds). ``since`` rebuilds the events it returns.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from .. import ids

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    seq: int
    type: str  # e.g. "item.created"
    workspace_id: str
    data: dict[str, Any]
    at: str
    boot: str = ""
    #: True for a change another server made (relayed through the shared database): subscribers
    #: that act on a change (sending its callback) leave it to the server that made it.
    remote: bool = False

    @property
    def id(self) -> str:
        return f"{self.boot}:{self.seq}"


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self, replay_size: int = 10_000) -> None:
        self._subscribers: list[Subscriber] = []
        self._seq = itertools.count(1)
        self.boot = secrets.token_hex(4)
        #: (seq, type, workspace_id, data as JSON, at, remote), or the Event whose data is no JSON.
        self._replay: deque[tuple | Event] = deque(maxlen=replay_size)
        self.last_seq = 0  # of the last event emitted

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the function that removes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber) if subscriber in self._subscribers else None

    def emit(self, type: str, workspace_id: str, data: dict[str, Any], *, remote: bool = False,
             at: str | None = None) -> Event:
        event = Event(next(self._seq), type, workspace_id, data, at or ids.now_iso(), self.boot, remote)
        self.last_seq = event.seq
        try:
            self._replay.append((event.seq, type, workspace_id, orjson.dumps(data), event.at, remote))
        except TypeError:  # not JSON (only in-process callers can emit such data): kept as it is
            self._replay.append(event)
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber failed on %s", type)
        return event

    @property
    def last_id(self) -> str | None:
        return f"{self.boot}:{_seq(self._replay[-1])}" if self._replay else None

    def _event(self, kept: tuple | Event) -> Event:
        if isinstance(kept, Event):
            return kept
        seq, type, workspace_id, data, at, remote = kept
        return Event(seq, type, workspace_id, orjson.loads(data), at, self.boot, remote)

    def since(self, event_id: str) -> list[Event] | None:
        """The events after ``event_id``, or None when they are no longer all known (a reset)."""
        boot, _, seq_text = event_id.partition(":")
        seq = ids.parse_digits(seq_text, 18)  # a client's header: anything but a sequence number is a reset
        if boot != self.boot or seq is None:
            return None
        if not self._replay:
            return [] if seq == 0 else None
        oldest = _seq(self._replay[0])
        if seq < oldest - 1 or seq > _seq(self._replay[-1]):
            return None
        return [self._event(kept) for kept in self._replay if _seq(kept) > seq]


def _seq(kept: tuple | Event) -> int:
    return kept.seq if isinstance(kept, Event) else kept[0]
