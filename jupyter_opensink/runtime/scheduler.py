"""Fires background jobs with aiocron on the server's event loop.

Jobs reach the scheduler through events (``job.created``/``updated``/
``deleted``), so the HTTP layer and the services never hold it. What a run
does is handed in as a callable. aiocron schedules each next firing before
running the job and does not wait for it: overlap is prevented by the
caller (``run``), which records a due run as skipped while one is going.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import aiocron

from .events import Event, EventBus

log = logging.getLogger(__name__)

#: (job, the due time, when it fired; both POSIX seconds) -> the run
Run = Callable[[dict[str, Any], float, float], Awaitable[Any]]
#: job -> (cron specs, timezone), or None when the job should not fire
Specs = Callable[[dict[str, Any]], tuple[tuple[str, ...], str] | None]


class JobScheduler:
    """One aiocron timer per distinct (spec, timezone), firing every job that shares it.

    A hundred jobs on the same schedule cost one timer and one cron
    computation per tick, and all of them start from the same due time.
    """

    def __init__(self, events: EventBus, *, run: Run, specs: Specs):
        self._events = events
        self._run = run
        self._specs = specs
        self._groups: dict[tuple[str, str], tuple[aiocron.Cron, set[str]]] = {}
        self._jobs: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._stopped = False

    def start(self, jobs: list[dict[str, Any]]) -> None:
        """Schedule the stored jobs and follow changes (call on the running loop)."""
        self._stopped = False
        self._unsubscribe = self._events.subscribe(self._on_event)
        for job in jobs:
            self.schedule(job)

    def _on_event(self, event: Event) -> None:
        if event.type in ("job.created", "job.updated"):
            self.schedule(event.data)
        elif event.type == "job.deleted":
            self.unschedule(event.data["id"])

    def schedule(self, job: dict[str, Any]) -> None:
        """(Re)schedule at once; a disabled job is only unscheduled."""
        self.unschedule(job["id"])
        if self._stopped:
            return
        found = self._specs(job)
        if found is None:
            return
        specs, tz = found
        keys = [(spec, tz) for spec in specs]
        self._jobs[job["id"]] = (job, keys)
        for key in keys:
            group = self._groups.get(key)
            if group is None:
                cron = aiocron.Cron(key[0], self._fire, args=(key,), start=True, loop=asyncio.get_running_loop(),
                                    tz=ZoneInfo(tz))
                group = self._groups[key] = (cron, set())
            group[1].add(job["id"])

    def unschedule(self, job_id: str) -> None:
        _, keys = self._jobs.pop(job_id, (None, []))
        for key in keys:
            cron, members = self._groups[key]
            members.discard(job_id)
            if not members:
                cron.stop()
                del self._groups[key]

    def _fire(self, key: tuple[str, str]) -> None:
        group = self._groups.get(key)
        if group is None or self._stopped:
            return
        fired = time.time()
        # The due time: aiocron fires within milliseconds of it, so round to the schedule's unit.
        unit = 1 if len(key[0].split()) == 6 else 60
        due = round(fired / unit) * unit
        for job_id in list(group[1]):
            job = self._jobs[job_id][0]
            task = asyncio.ensure_future(self._guarded(job, due, fired))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _guarded(self, job: dict[str, Any], due: float, fired: float) -> None:
        try:
            await self._run(job, due, fired)
        except Exception:
            log.exception("background job %s failed to run", job["id"])

    @property
    def scheduled(self) -> list[str]:
        return list(self._jobs)

    async def stop(self) -> None:
        """Nothing fires after this; runs in flight finish (bounded by the request timeout)."""
        self._stopped = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for job_id in list(self._jobs):
            self.unschedule(job_id)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
