"""Relays events between servers that share one database.

Every event emitted on this server is published (in order, by one background
task) through the store's ``publish``; every message the store's ``listen``
delivers from another server is emitted here with ``remote=True``, so this
server's event streams, scheduler and expiry timers see changes made
elsewhere. A server hears its own messages too and drops them by origin.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from .events import Event, EventBus

log = logging.getLogger(__name__)

Publish = Callable[[str], Awaitable[None]]
Listen = Callable[[Callable[[str], None]], Awaitable[Callable[[], Awaitable[None]]]]


class EventRelay:
    def __init__(self, events: EventBus, *, publish: Publish, listen: Listen, queue_size: int = 10_000):
        self._events = events
        self._publish = publish
        self._listen = listen
        self.origin = secrets.token_hex(8)
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(queue_size)
        self._task: asyncio.Task | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._stop_listening: Callable[[], Awaitable[None]] | None = None
        self.dropped = 0

    async def start(self) -> None:
        if self._task is not None:
            return  # already relaying
        self._stop_listening = await self._listen(self._on_message)
        self._unsubscribe = self._events.subscribe(self._on_event)
        self._task = asyncio.ensure_future(self._sender())

    def _on_event(self, event: Event) -> None:
        if event.remote:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("event relay queue full: %s %s not sent to other servers", event.type, event.data.get("id"))

    async def _sender(self) -> None:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            payload = orjson.dumps({"o": self.origin, "t": event.type, "w": event.workspace_id, "a": event.at,
                                    "d": event.data}).decode()
            try:
                await self._publish(payload)
            except Exception:
                log.exception("could not relay %s to other servers", event.type)

    def _on_message(self, payload: str) -> None:
        try:
            message: dict[str, Any] = orjson.loads(payload)
            if message["o"] == self.origin:
                return
            self._events.emit(message["t"], message["w"], message["d"], remote=True, at=message["a"])
        except Exception:
            log.exception("bad relayed event")

    async def stop(self) -> None:
        """Send what is queued, then stop listening."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            await self._queue.put(None)
            try:
                await asyncio.wait_for(self._task, 10)
            except (asyncio.TimeoutError, Exception):
                self._task.cancel()
            self._task = None
        if self._stop_listening is not None:
            await self._stop_listening()
            self._stop_listening = None
