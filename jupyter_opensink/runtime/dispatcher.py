"""Runs work in reaction to events, off the request path, and finishes it on shutdown.

The resolve request returns as soon as its write is durable; the callback
is a task started by the ``input_request.resolved`` event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .events import Event, EventBus

log = logging.getLogger(__name__)

Reaction = Callable[[dict[str, Any]], Awaitable[Any]]


class Dispatcher:
    def __init__(self, events: EventBus, reactions: dict[str, Reaction]):
        self._events = events
        self._reactions = reactions
        self._tasks: set[asyncio.Task] = set()
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self._events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.type in self._reactions and not event.remote:  # the server that made the change reacts
            self.submit(event.type, event.data)

    def submit(self, event_type: str, data: dict[str, Any]) -> None:
        """React to ``data`` as to an ``event_type`` event (also used to resume work after a restart)."""
        task = asyncio.ensure_future(self._run(self._reactions[event_type], event_type, data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, reaction: Reaction, event_type: str, data: dict[str, Any]) -> None:
        try:
            await reaction(data)
        except Exception:
            log.exception("reaction to %s %s failed", event_type, data.get("id"))

    async def drain(self) -> None:
        """Wait for work in flight (callbacks are bounded by their timeout)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self.drain()
