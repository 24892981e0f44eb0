"""Expires pending input requests when their ``expires_at`` passes.

One timer per pending request with an expiry, on the event loop. The rules
(what expiring means for the session) stay in the services, handed in as
callables, so this module imports nothing above it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .. import ids
from .events import Event, EventBus

log = logging.getLogger(__name__)

Expire = Callable[[str, str], Awaitable[Any]]  # (workspace_id, request_id)
Pending = Callable[[], Awaitable[list[dict[str, Any]]]]


class ExpiryScheduler:
    def __init__(self, events: EventBus, *, expire: Expire, pending: Pending):
        self._events = events
        self._expire = expire
        self._pending = pending
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        self._unsubscribe = self._events.subscribe(self._on_event)
        for request in await self._pending():
            self._schedule(request)

    def _on_event(self, event: Event) -> None:
        if event.type == "input_request.created" and event.data.get("expires_at"):
            self._schedule(event.data)
        elif event.type in ("input_request.resolved", "input_request.expired"):
            timer = self._timers.pop(event.data["id"], None)
            if timer is not None:
                timer.cancel()

    def _schedule(self, request: dict[str, Any]) -> None:
        delay = max(0.0, ids.parse_time(request["expires_at"]).timestamp() - time.time())
        loop = asyncio.get_running_loop()
        self._timers[request["id"]] = loop.call_later(delay, self._fire, request["workspace_id"], request["id"])

    def _fire(self, workspace_id: str, request_id: str) -> None:
        self._timers.pop(request_id, None)
        task = asyncio.ensure_future(self._run(workspace_id, request_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, workspace_id: str, request_id: str) -> None:
        try:
            await self._expire(workspace_id, request_id)
        except Exception:
            log.exception("could not expire input request %s", request_id)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
