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

#: (job, the scheduled time as POSIX seconds) -> the run
Run = Callable[[dict[str, Any], float], Awaitable[Any]]
#: job -> (cron specs, timezone), or None when the job should not fire
Specs = Callable[[dict[str, Any]], tuple[tuple[str, ...], str] | None]


class JobScheduler:
    def __init__(self, events: EventBus, *, run: Run, specs: Specs):
        self._events = events
        self._run = run
        self._specs = specs
        self._crons: dict[str, list[aiocron.Cron]] = {}
        self._jobs: dict[str, dict[str, Any]] = {}
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
        loop = asyncio.get_running_loop()
        self._jobs[job["id"]] = job
        self._crons[job["id"]] = [
            aiocron.Cron(spec, self._fire, args=(job["id"], spec), start=True, loop=loop, tz=ZoneInfo(tz))
            for spec in specs
        ]

    def unschedule(self, job_id: str) -> None:
        for cron in self._crons.pop(job_id, []):
            cron.stop()
        self._jobs.pop(job_id, None)

    def _fire(self, job_id: str, spec: str) -> None:
        job = self._jobs.get(job_id)
        if job is None or self._stopped:
            return
        # The due time: fired within milliseconds of it, so round to the schedule's unit.
        unit = 1 if len(spec.split()) == 6 else 60
        due = round(time.time() / unit) * unit
        task = asyncio.ensure_future(self._guarded(job, due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, job: dict[str, Any], due: float) -> None:
        try:
            await self._run(job, due)
        except Exception:
            log.exception("background job %s failed to run", job["id"])

    @property
    def scheduled(self) -> list[str]:
        return list(self._crons)

    async def stop(self) -> None:
        """Nothing fires after this; runs in flight finish (bounded by the request timeout)."""
        self._stopped = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for job_id in list(self._crons):
            self.unschedule(job_id)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
