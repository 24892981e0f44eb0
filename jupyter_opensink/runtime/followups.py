"""Fires pending input requests' reminders and escalations when they fall due.

One timer per pending request with follow-ups, on the event loop, armed for its next due time as the
services compute it from the stored request (so a restart finds the same times). At start, what fell
due while no server ran is fired at once (the services say what: the escalation and the latest
reminder). Every server sharing a database arms the same timers; the services claim each due time
once, so only one of them sends. The rules are handed in as callables: this module imports nothing
above it, as the expiry timers do (``expiry.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .events import Event, EventBus

log = logging.getLogger(__name__)

#: (request, after: POSIX seconds) -> (due time, the follow-ups due then) or None
NextDue = Callable[[dict[str, Any], float], "tuple[float, list[str]] | None"]
#: (request, now) -> names of follow-ups that fell due unsent while no server ran
Missed = Callable[[dict[str, Any], float], list[str]]
#: (request id, follow-up name) -> whether more may follow (the request is still pending)
Fire = Callable[[str, str], Awaitable[bool]]
Pending = Callable[[], Awaitable[list[dict[str, Any]]]]
Wanted = Callable[[dict[str, Any]], bool]

SETTLED = ("input_request.resolved", "input_request.expired")


class FollowUpScheduler:
    def __init__(self, events: EventBus, *, pending: Pending, wanted: Wanted, next_due: NextDue, missed: Missed,
                 fire: Fire):
        self._events = events
        self._pending = pending
        self._wanted = wanted
        self._next_due = next_due
        self._missed = missed
        self._fire = fire
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._stopped = False

    async def start(self) -> None:
        self._stopped = False
        self._unsubscribe = self._events.subscribe(self._on_event)
        now = time.time()
        for request in await self._pending():
            if request["id"] in self._timers:
                continue  # created (and armed) while the pending ones were read
            for name in self._missed(request, now):
                self._spawn(request, name)
            self._arm(request, now)

    def _on_event(self, event: Event) -> None:
        if event.type == "input_request.created" and event.data.get("status") == "pending" \
                and self._wanted(event.data):
            self._arm(event.data, time.time())
        elif event.type in SETTLED:
            self._cancel(event.data["id"])

    def _cancel(self, request_id: str) -> None:
        timer = self._timers.pop(request_id, None)
        if timer is not None:
            timer.cancel()

    def _arm(self, request: dict[str, Any], after: float) -> None:
        self._cancel(request["id"])
        if self._stopped:
            return
        due = self._next_due(request, after)
        if due is None:
            return
        when, names = due
        loop = asyncio.get_running_loop()
        self._timers[request["id"]] = loop.call_later(max(0.0, when - time.time()), self._due, request, when, names)

    def _due(self, request: dict[str, Any], when: float, names: list[str]) -> None:
        self._timers.pop(request["id"], None)
        self._arm(request, when)  # the next one is armed before these are sent: a slow send never delays it
        for name in names:
            self._spawn(request, name)

    def _spawn(self, request: dict[str, Any], name: str) -> None:
        task = asyncio.ensure_future(self._run(request, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, request: dict[str, Any], name: str) -> None:
        try:
            more = await self._fire(request["id"], name)
        except Exception:
            log.exception("could not send follow-up %s of input request %s", name, request["id"])
            return
        if not more:
            self._cancel(request["id"])

    @property
    def armed(self) -> list[str]:
        return list(self._timers)

    async def stop(self) -> None:
        self._stopped = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
