"""Background jobs: an HTTP request (or an agent run) on a schedule, and the record of every run."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import Any

from .scoping import get_owned, scoped
from .. import ids
from ..errors import Conflict, Invalid, NotFound
from ..runtime.events import EventBus
from ..runtime.outbound import Outbound
from ..store import Delete, Insert, Page, Store, TableSpec, Update
from .agents import Agents
from .cascade import delete_with_children
from .deliveries import ExecutionDeliveries
from .notebook_runs import NotebookRuns, describe_end
from .schedules import Schedule, build_schedule
from .secrets import new_execution_secret

TABLES = [
    TableSpec("background_jobs", indexes=("workspace_id", "agent_id")),
    TableSpec("background_job_runs", indexes=("job_id", "workspace_id", "status")),
    # One row per (job, due time), inserted by whichever server fires first: with several servers
    # on one database, the others get a Conflict and let that run go.
    TableSpec("background_job_claims", indexes=("job_id",)),
]
CLAIM_KEEP_SECONDS = 3600  # claims older than this (per job) are deleted when the job fires again
SCHEDULE_FIELDS = ("interval_minutes", "start_minute", "cron", "timezone")
TARGET_FIELDS = ("url", "method", "headers", "body", "agent_id", "notebook")
STATS = ("total_runs", "successful_runs", "failed_runs", "skipped_runs")


def schedule_of(job: dict[str, Any]) -> Schedule:
    return build_schedule(job)


def specs_of(job: dict[str, Any]) -> tuple[tuple[str, ...], str] | None:
    """What the scheduler fires, or None for a disabled job."""
    if not job.get("enabled"):
        return None
    schedule = schedule_of(job)
    return schedule.specs, schedule.timezone


class BackgroundJobs:
    def __init__(self, store: Store, outbound: Outbound, agents: Agents, deliveries: ExecutionDeliveries,
                 events: EventBus, notebook_runs: NotebookRuns):
        self.store = store
        self.outbound = outbound
        self.agents = agents
        self.deliveries = deliveries
        self.events = events
        self.notebook_runs = notebook_runs
        self._running: set[str] = set()  # job ids with a run in flight
        self._manual: set[asyncio.Task] = set()  # manually triggered runs in flight

    # -- jobs -------------------------------------------------------------------
    def render(self, job: dict[str, Any]) -> dict[str, Any]:
        """The job with its next run, without its signing secret (shown by create and rotate only)."""
        next_run = None
        if job.get("enabled"):
            next_run = ids.to_iso(schedule_of(job).next_after(datetime.now(timezone.utc)))
        return {**{k: v for k, v in job.items() if k != "signing_secret"}, "next_run_at": next_run}

    async def _check(self, workspace_id: str, job: dict[str, Any], *, new_notebook: bool = True) -> dict[str, Any]:
        """Validate a whole job (after a create or a patch); returns it with defaults filled.

        A notebook target is checked when it is set (``new_notebook``): a job whose notebook was removed since
        can still be changed (disabled, pointed elsewhere); its runs fail, saying why."""
        schedule = build_schedule(job)
        if job.get("cron") is not None:
            job["timezone"] = schedule.timezone
        else:
            job["start_minute"] = job.get("start_minute") or 0
            job["timezone"] = None
        has_url, has_agent = job.get("url") is not None, job.get("agent_id") is not None
        has_notebook = job.get("notebook") is not None
        if has_url + has_agent + has_notebook != 1:
            raise Invalid("give exactly one target: url (with method, headers, body), agent_id or notebook")
        if has_agent or has_notebook:
            if any(job.get(f) is not None for f in ("method", "headers", "body")):
                raise Invalid("method, headers and body go with url; an agent_id job calls the agent's "
                              "execution endpoint (or notebook) as configured, a notebook job runs the notebook")
        if has_notebook and new_notebook:
            job["notebook"] = self.notebook_runs.check_target(job["notebook"])
        elif has_agent:
            agent = await self.agents.get_doc(workspace_id, job["agent_id"])
            if not agent.get("execution_endpoint") and not agent.get("execution_notebook"):
                raise Invalid(f"agent_id: agent {agent['id']} has no execution_endpoint (or execution_notebook) "
                              "to call")
        else:
            job["method"] = job.get("method") or "POST"
            job["headers"] = job.get("headers") or {}
        return job

    async def get_doc(self, workspace_id: str, job_id: str) -> dict[str, Any]:
        return await get_owned(self.store, "background_jobs", job_id, workspace_id, "background job")

    async def get(self, workspace_id: str, job_id: str) -> dict[str, Any]:
        return self.render(await self.get_doc(workspace_id, job_id))

    async def create(self, workspace_id: str, values: dict[str, Any]) -> dict[str, Any]:
        job = await self._check(workspace_id, {**values})
        secret = new_execution_secret()  # every job gets one, so a later switch to a url target has it
        doc = await self.store.insert("background_jobs", {
            **job, "workspace_id": workspace_id, "last_run_at": None, **dict.fromkeys(STATS, 0),
            "signing_secret": secret})
        rendered = self.render(doc)
        self.events.emit("job.created", workspace_id, rendered)
        return {**rendered, "signing_secret": secret}

    async def rotate_secret(self, workspace_id: str, job_id: str) -> dict[str, Any]:
        """A new signing secret for the job's requests (shown this once); the old one stops at once."""
        await self.get_doc(workspace_id, job_id)
        secret = new_execution_secret()
        rendered = self.render(await self.store.update("background_jobs", job_id, {"signing_secret": secret}))
        self.events.emit("job.updated", workspace_id, rendered)
        return {**rendered, "signing_secret": secret}

    async def list(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        page = await self.store.query("background_jobs", scoped(workspace_id, filters), limit=limit,
                                      after=after, order=order)
        page.items = [self.render(d) for d in page.items]
        return page

    async def update(self, workspace_id: str, job_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        current = await self.get_doc(workspace_id, job_id)
        merged = {**current, **changes}
        # Switching schedule form or target form clears the other form's fields.
        if changes.get("cron") is not None and "interval_minutes" not in changes:
            merged["interval_minutes"] = merged["start_minute"] = None
        if changes.get("interval_minutes") is not None and "cron" not in changes:
            merged["cron"] = merged["timezone"] = None
        if changes.get("agent_id") is not None and "url" not in changes:
            merged.update(url=None, method=None, headers=None, body=None)
        if changes.get("url") is not None and "agent_id" not in changes:
            merged["agent_id"] = None
        if (changes.get("url") is not None or changes.get("agent_id") is not None) and "notebook" not in changes:
            merged["notebook"] = None
        if changes.get("notebook") is not None:
            for field in ("url", "method", "headers", "body", "agent_id"):
                if field not in changes:
                    merged[field] = None
        job = await self._check(workspace_id, merged, new_notebook=changes.get("notebook") is not None)
        doc = await self.store.update("background_jobs", job_id,
                                      {k: job.get(k) for k in (*SCHEDULE_FIELDS, *TARGET_FIELDS, "name", "enabled")})
        rendered = self.render(doc)
        self.events.emit("job.updated", workspace_id, rendered)
        return rendered

    async def delete(self, workspace_id: str, job_id: str) -> dict[str, Any]:
        doc = await self.get(workspace_id, job_id)
        await delete_with_children(self.store, "background_jobs", job_id,
                                   [("background_job_runs", {"job_id": job_id}),
                                    ("background_job_claims", {"job_id": job_id})])
        self.events.emit("job.deleted", workspace_id, doc)
        return doc

    async def all_jobs(self) -> list[dict[str, Any]]:
        return await self.store.all("background_jobs")

    # -- runs -------------------------------------------------------------------
    async def trigger(self, workspace_id: str, job_id: str) -> dict[str, Any]:
        """Start a run now; returns it as started (it finishes in the background)."""
        job = await self.get_doc(workspace_id, job_id)
        run, finish = await self.start_run(job, "manual", None, time.time())
        if finish is not None:
            task = asyncio.ensure_future(finish)
            self._manual.add(task)
            task.add_done_callback(self._manual.discard)
        return run

    async def run_scheduled(self, job: dict[str, Any], due: float, fired: float) -> None:
        current = await self.store.get("background_jobs", job["id"])
        if current is None or not current.get("enabled"):
            return
        # The claim (this server takes the run due at ``due``) is written with the run itself: one
        # durable write before the request goes out. A Conflict means another server sharing the
        # database took it.
        claim = Insert("background_job_claims", {"id": f"{current['id']}@{ids.format_time(due)}",
                                                 "job_id": current["id"]})
        try:
            _, finish = await self.start_run(current, "schedule", due, fired, claim=claim)
        except Conflict:
            return
        if finish is not None:
            await finish
        await self._forget_old_claims(current, due)

    async def _forget_old_claims(self, job: dict[str, Any], due: float) -> None:
        """Claims are kept for CLAIM_KEEP_SECONDS (a late server must still see them); older ones go."""
        old = ids.format_time(due - CLAIM_KEEP_SECONDS)
        stale = await self.store.query("background_job_claims", {"job_id": job["id"]}, order="asc", limit=100,
                                       match=lambda c: c["id"].rpartition("@")[2] < old)
        if stale.items:
            try:
                await self.store.batch([Delete("background_job_claims", c["id"]) for c in stale.items])
            except NotFound:
                pass  # another server cleaned up at the same time

    def _lease_seconds(self, job: dict[str, Any] | None = None) -> float:
        """How long a run can really last: its call is bounded by the outbound timeout, a notebook's by its own."""
        notebook = (job or {}).get("notebook") or {}
        return max(self.outbound.timeout, notebook.get("timeout_seconds") or 0) + 60

    async def _running_elsewhere(self, job: dict[str, Any]) -> bool:
        if not self.store.shared:
            return False
        since = ids.format_time(time.time() - self._lease_seconds(job))
        page = await self.store.query("background_job_runs", {"job_id": job["id"], "status": "running"}, limit=1,
                                      match=lambda r: r["started_at"] >= since)
        return bool(page.items)

    async def start_run(self, job: dict[str, Any], trigger: str, due: float | None, fired: float,
                        claim: Insert | None = None):
        """Record the run (or a skipped one if the job is still running); returns (run, completion).

        ``claim``, when given, is written with the run (or just before a skipped one); its Conflict is
        raised as is.
        """
        now = ids.format_time(fired)
        base = {"job_id": job["id"], "workspace_id": job["workspace_id"], "trigger": trigger, "started_at": now,
                "scheduled_for": ids.format_time(due) if due is not None else None, "notebook_run_id": None}
        if job["id"] in self._running or await self._running_elsewhere(job):
            if claim is not None:  # on its own: the skipped run's write retries on the job's Conflict
                await self.store.batch([claim])
            run = (await self._record(job["id"], Insert("background_job_runs", {
                **base, "status": "skipped", "finished_at": now, "duration_ms": 0, "response_status": None,
                "error_message": "the previous run was still going"}), {"skipped_runs": 1}))[0]
            self.events.emit("job.run.finished", job["workspace_id"], run)
            return run, None
        self._running.add(job["id"])
        started = Insert("background_job_runs", {**base, "status": "running", "finished_at": None,
                                                  "duration_ms": None, "response_status": None, "error_message": None})
        try:
            run = (await self.store.batch([claim, started] if claim is not None else [started]))[-1]
        except BaseException:
            self._running.discard(job["id"])
            raise
        self.events.emit("job.run.started", job["workspace_id"], run)
        return run, self._finish_run(job, run)

    async def _finish_run(self, job: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            status_code, error = await self._call_target(job, run)
        except Exception as exc:  # a bug, not the target's fault: still record it
            status_code, error = None, f"the run failed inside the server: {type(exc).__name__}"
        finally:
            self._running.discard(job["id"])
        ok = error is None
        finished = Update("background_job_runs", run["id"], {
            "status": "success" if ok else "failed", "finished_at": ids.now_iso(),
            "duration_ms": round((time.perf_counter() - started) * 1000, 2), "response_status": status_code,
            "error_message": error})
        try:
            done = await self._record(job["id"], finished, {"successful_runs" if ok else "failed_runs": 1},
                                      last_run_at=run["started_at"])
        except NotFound:
            return run  # the job was deleted while it ran
        self.events.emit("job.run.finished", job["workspace_id"], done[0])
        return done[0]

    async def _record(self, job_id: str, run_op, counts: dict[str, int], **fields: Any) -> list:
        """Write ``run_op`` and count the run on the job in one batch.

        The job's counters are read and written back with a compare-and-set on ``total_runs``
        (retried), so runs finishing at the same moment (on several servers) lose no count.
        """
        for _ in range(100):
            current = await self.store.get("background_jobs", job_id)
            if current is None:
                return await self.store.batch([run_op])
            changes = {"total_runs": current["total_runs"] + 1, **fields}
            changes.update({k: current.get(k, 0) + n for k, n in counts.items()})
            try:
                return await self.store.batch([run_op, Update("background_jobs", job_id, changes,
                                                              expect={"total_runs": current["total_runs"]})])
            except Conflict:
                continue  # counted by another run meanwhile: read again
        raise Conflict(f"background job {job_id}: could not count the run (too many concurrent changes)")

    async def _run_notebook(self, job: dict[str, Any], run: dict[str, Any], target: dict[str, Any],
                            agent_id: str | None) -> tuple[int | None, str | None]:
        """Run the notebook (in a session made for the run) and wait for its end: the job's run lasts as long."""
        try:
            started = await self.notebook_runs.start(job["workspace_id"], target, job_id=job["id"], agent_id=agent_id)
        except Invalid as exc:  # the notebook was moved, removed or replaced by a link leading out
            return None, exc.message
        try:
            await self.store.update("background_job_runs", run["id"], {"notebook_run_id": started["id"]})
        except NotFound:
            pass
        return None, describe_end(await self.notebook_runs.wait(started["id"]))

    async def _call_target(self, job: dict[str, Any], run: dict[str, Any]) -> tuple[int | None, str | None]:
        if job.get("notebook"):
            return await self._run_notebook(job, run, job["notebook"], None)
        if job.get("agent_id"):
            agent = await self.store.get("agents", job["agent_id"])
            if agent is not None and agent.get("execution_notebook"):
                return await self._run_notebook(job, run, agent["execution_notebook"], agent["id"])
            if agent is None or not agent.get("execution_endpoint"):
                return None, "the agent is gone or has no execution_endpoint"
            record = await self.deliveries.call_agent(agent, trigger="job")
            return record["status_code"], record["error"]
        method = job.get("method") or "POST"
        # Signed with the job's own secret, never an agent's or the workspace's: whoever may write jobs
        # chooses this body, and it must not pass for a callback to an agent.
        outcome = await self.outbound.send(method, job["url"], headers=job.get("headers") or {},
                                           body=None if method == "GET" else (job.get("body") or {}),
                                           secret=job.get("signing_secret"), message_id=ids.new_id())
        return outcome.status_code, outcome.error

    async def runs(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        return await self.store.query("background_job_runs", scoped(workspace_id, filters), limit=limit,
                                      after=after, order=order)

    async def get_run(self, workspace_id: str, run_id: str) -> dict[str, Any]:
        return await get_owned(self.store, "background_job_runs", run_id, workspace_id, "background job run")

    async def drain(self) -> None:
        if self._manual:
            await asyncio.gather(*list(self._manual), return_exceptions=True)

    async def fail_interrupted_runs(self) -> int:
        """Runs left ``running`` by a stopped server never finished: say so.

        On a database shared with other servers, a run still within its lease may be another
        server's run in flight: only older ones are failed.
        """
        stale = await self.store.all("background_job_runs", {"status": "running"})
        if self.store.shared:
            since = ids.format_time(time.time() - self._lease_seconds())
            stale = [run for run in stale if run["started_at"] < since]
        for run in stale:
            await self.store.update("background_job_runs", run["id"], {
                "status": "failed", "finished_at": ids.now_iso(),
                "error_message": "the server stopped before the run finished"})
        return len(stale)
