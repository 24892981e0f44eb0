"""Relays events between servers that share one database.

Every event emitted on this server is published (in order, by one background
task) through the store's ``publish_many``; every message the store's
``listen`` delivers from another server is emitted here with ``remote=True``,
so this server's event streams, scheduler and expiry timers see changes made
elsewhere. A server hears its own messages too and drops them by origin.

The sender takes every event queued since its last send and packs them into
as few messages as fit ``message_bytes`` each (one event larger than that is a
message of its own; the store carries it another way), all handed to the store
at once: one round trip for everything a busy loop emitted meanwhile, not one
per event. A message is ``{"o": origin, "n": serial, "e": [[type, workspace,
at, data], ...]}``; the serial keeps two messages with equal events apart
(PostgreSQL folds identical notifications sent together into one).
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

PublishMany = Callable[[list[str]], Awaitable[None]]
Listen = Callable[[Callable[[str], None]], Awaitable[Callable[[], Awaitable[None]]]]


class EventRelay:
    def __init__(self, events: EventBus, *, publish_many: PublishMany, listen: Listen, queue_size: int = 10_000,
                 message_bytes: int = 7000):
        self._events = events
        self._publish_many = publish_many
        self._message_bytes = message_bytes
        self._serial = 0
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
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while not self._queue.empty():
                event = self._queue.get_nowait()
                if event is None:
                    stopping = True
                    break
                batch.append(event)
            try:
                await self._publish_many(self.pack(batch))
            except Exception:
                log.exception("could not relay %d event(s) to other servers", len(batch))
            if stopping:
                return

    def pack(self, events: list[Event]) -> list[str]:
        """The messages carrying ``events`` in order, each within ``message_bytes`` unless one event is larger."""
        messages: list[str] = []
        parts: list[bytes] = []
        size = 0
        for event in events:
            part = orjson.dumps([event.type, event.workspace_id, event.at, event.data])
            if parts and size + len(part) + 1 > self._room():
                messages.append(self._message(parts))
                parts, size = [], 0
            parts.append(part)
            size += len(part) + 1
        if parts:
            messages.append(self._message(parts))
        return messages

    def _room(self) -> int:
        """Bytes left for the events in one message (the envelope's own share taken off)."""
        return self._message_bytes - len(self.origin) - 40

    def _message(self, parts: list[bytes]) -> str:
        self._serial += 1
        return (b'{"o":"' + self.origin.encode() + b'","n":' + str(self._serial).encode()
                + b',"e":[' + b",".join(parts) + b"]}").decode()

    def _on_message(self, payload: str) -> None:
        try:
            message: dict[str, Any] = orjson.loads(payload)
            if message["o"] == self.origin:
                return
            if "e" not in message:  # one event, as servers before batching sent it
                self._events.emit(message["t"], message["w"], message["d"], remote=True, at=message["a"])
                return
            for type_, workspace_id, at, data in message["e"]:
                self._events.emit(type_, workspace_id, data, remote=True, at=at)
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
