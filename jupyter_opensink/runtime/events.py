"""The in-process event bus: every state change is announced here.

Subscribers (the live event stream, the callback dispatcher, ...) are plain
callables run synchronously on the event loop; they must not block. A
subscriber that raises is logged and kept, so one bad consumer cannot stop
the others or the write that emitted the event.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import ids

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    seq: int
    type: str  # e.g. "item.created"
    workspace_id: str
    data: dict[str, Any]
    at: str


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._seq = itertools.count(1)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the function that removes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber) if subscriber in self._subscribers else None

    def emit(self, type: str, workspace_id: str, data: dict[str, Any]) -> Event:
        event = Event(next(self._seq), type, workspace_id, data, ids.now_iso())
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber failed on %s", type)
        return event
