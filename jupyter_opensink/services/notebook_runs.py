"""Notebook runs: a job's, an agent's (one per callback) or a webhook's notebook, from queued to its end.

A notebook target names a file under the server's ``root_dir``; it is checked when it is set (400 for an
absolute path, one that leaves the root through ``..`` or a symlink, one that is no ``.ipynb`` or does not
exist) and again when a run starts, since the file may have changed since. Every run is recorded before
its kernel starts (``queued``), then ``running``, then how it ended; its executed copy is written under
``output_dir`` so it opens in JupyterLab. The kernel asks on the run's session (``OPENSINK_SESSION_ID``):
the callback's, or one made for the run under the agent that runs it (for a job with no agent, an agent
named after the notebook). A run that fails fails that session, saying why; a session made for the run
completes with a successful run.

The kernels themselves are the runner's (``runtime/notebooks.py``): this module only says what to run.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from .. import ids
from ..errors import Conflict, Invalid, NotFound
from ..models.notebooks import DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS
from ..runtime.events import EventBus
from ..runtime.notebooks import Execution, Finished, Outcome, Started
from ..store import Page, Store, TableSpec
from .agents import Agents
from .scoping import get_owned, scoped
from .sessions import Sessions

TABLES = [TableSpec("notebook_runs", indexes=("workspace_id", "job_id", "agent_id", "status"))]
OVER = ("success", "failed", "timeout", "cancelled")
STOPPED_BY_SERVER = "the server stopped while it ran"
INTERRUPTED = "the server stopped before the run finished"


class Runner(Protocol):
    """What runs the kernels (``runtime.notebooks.NotebookRunner``)."""

    def kernel_names(self) -> set[str] | None: ...

    def submit(self, execution: Execution, started: Started, finished: Finished) -> None: ...

    def cancel(self, run_id: str, reason: str) -> bool: ...


def describe_end(run: dict[str, Any]) -> str | None:
    """Why a run did not succeed, in a sentence (None when it did)."""
    status = run["status"]
    if status == "success":
        return None
    if status in ("timeout", "cancelled"):
        return f"notebook {run['path']} {'timed out' if status == 'timeout' else 'was cancelled'}: {run.get('reason')}"
    error = run.get("error") or {}
    where = f" at cell {error['cell_index']}" if error.get("cell_index") is not None else ""
    return f"notebook {run['path']} failed{where}: {error.get('ename')}: {error.get('evalue')}"


class NotebookRuns:
    def __init__(self, store: Store, agents: Agents, sessions: Sessions, events: EventBus):
        self.store = store
        self.agents = agents
        self.sessions = sessions
        self.events = events
        #: Set by the app: the server's root_dir, where the executed copies go (absolute), and the runner.
        self.root_dir: Path | None = None
        self.output_dir: Path | None = None
        self.runner: Runner | None = None
        #: Who this server is on a database others may share (the app sets it): each run records its runner.
        self.server_id: str | None = None
        self._ends: dict[str, asyncio.Future] = {}  # run id -> the finished run, for a job waiting on it
        self._started: dict[str, float] = {}  # run id -> perf_counter at start (its duration)

    # -- targets ------------------------------------------------------------------------------
    def _root(self) -> Path:
        if self.root_dir is None:
            raise Invalid("notebook targets need the Jupyter server's root_dir (this server has none)")
        return self.root_dir.resolve()

    def locate(self, path: str) -> Path:
        """The notebook's absolute path, if ``path`` names an existing .ipynb inside root_dir (else 400)."""
        pure = PurePosixPath(path.replace("\\", "/"))
        if not pure.parts or pure.is_absolute() or path.startswith(("/", "\\", "~")) or ":" in pure.parts[0]:
            raise Invalid(f"notebook.path: {path[:200]!r} must be relative to the server's root_dir")
        if ".." in pure.parts:
            raise Invalid(f"notebook.path: {path[:200]!r} may not contain '..'")
        if pure.suffix != ".ipynb":
            raise Invalid(f"notebook.path: {path[:200]!r} is not a notebook (.ipynb)")
        root = self._root()
        found = (root / pure).resolve()
        if not found.is_relative_to(root):  # a symlink leading out of the root
            raise Invalid(f"notebook.path: {path[:200]!r} leads outside the server's root_dir")
        if not found.is_file():
            raise Invalid(f"notebook.path: {path[:200]!r} is no notebook file under the server's root_dir")
        return found

    def check_target(self, target: dict[str, Any]) -> dict[str, Any]:
        """A notebook target with its defaults, its path in the form stored (POSIX, relative); 400 otherwise."""
        self.locate(target["path"])
        kernel_name = target.get("kernel_name")
        known = self.runner.kernel_names() if self.runner is not None else None
        if kernel_name is not None and known is not None and kernel_name not in known:
            raise Invalid(f"notebook.kernel_name: no kernel spec {kernel_name!r} on this server "
                          f"(there are: {', '.join(sorted(known))})")
        return {"path": PurePosixPath(target["path"].replace("\\", "/")).as_posix(),
                "parameters": target.get("parameters") or {}, "kernel_name": kernel_name,
                "timeout_seconds": target.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS}

    # -- starting -----------------------------------------------------------------------------
    async def _session_for(self, workspace_id: str, agent_id: str | None, path: str) -> dict[str, Any]:
        """A session made for the run: under its agent, or under an agent named after the notebook."""
        if agent_id is None:
            found = await self.store.query("agents", {"workspace_id": workspace_id}, limit=1,
                                           match=lambda a: a.get("name") == path and a.get("notebook_agent"))
            if found.items:
                agent_id = found.items[0]["id"]
            else:
                agent_id = (await self.agents.create(workspace_id, {
                    "name": path, "description": f"Runs of the notebook {path}", "notebook_agent": True}))["id"]
        return await self.sessions.create(workspace_id, {"agent_id": agent_id, "status": "running", "state": {},
                                                         "metadata": {"notebook": path}})

    def _output_for(self, path: str, run_id: str) -> Path:
        out_dir = self.output_dir if self.output_dir is not None else self._root() / "opensink-runs"
        stem = PurePosixPath(path).stem
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        return out_dir / f"{stem}-{stamp}-{run_id[-8:]}.ipynb"

    def _shown_path(self, output: Path) -> str:
        """The output's path as JupyterLab opens it (relative to root_dir), or absolute when outside it."""
        try:
            return output.relative_to(self._root()).as_posix()
        except ValueError:
            return str(output)

    async def start(self, workspace_id: str, target: dict[str, Any], *, job_id: str | None = None,
                    agent_id: str | None = None, session_id: str | None = None,
                    parameters: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record a run (``queued``) and hand it to the runner; returns the run. Its end is for ``wait``."""
        if self.runner is None:
            raise Invalid("this server cannot run notebooks (no kernel runner)")
        source = self.locate(target["path"])  # again: the file may have been replaced since it was set
        if session_id is None:
            session_id = (await self._session_for(workspace_id, agent_id, target["path"]))["id"]
            made_session = True
        else:
            made_session = False
        run_id = ids.new_id()
        output = self._output_for(target["path"], run_id)
        merged = {**(target.get("parameters") or {}), **(parameters or {})}
        run = await self.store.insert("notebook_runs", {
            "id": run_id, "workspace_id": workspace_id, "path": target["path"], "job_id": job_id,
            "agent_id": agent_id, "session_id": session_id, "made_session": made_session, "status": "queued",
            "runner": self.server_id,
            "parameters": merged, "started_at": None, "finished_at": None, "duration_ms": None,
            "output_path": self._shown_path(output), "error": None, "reason": None})
        self._ends[run_id] = asyncio.get_running_loop().create_future()
        self.events.emit("notebook_run.queued", workspace_id, run)
        env = {"OPENSINK_SESSION_ID": session_id, "OPENSINK_NOTEBOOK_RUN_ID": run_id}
        execution = Execution(run_id=run_id, source=source, output=output, parameters=merged,
                              kernel_name=target.get("kernel_name"),
                              timeout=float(target.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS), env=env)
        self.runner.submit(execution, self._on_started, self._on_finished)
        return run

    async def wait(self, run_id: str) -> dict[str, Any]:
        """The run once it has ended (a run of this server)."""
        end = self._ends.get(run_id)
        if end is None:
            run = await self.store.get("notebook_runs", run_id)
            if run is None:
                raise NotFound(f"notebook run {run_id} not found")
            return run
        return await asyncio.shield(end)

    # -- the runner's reports -----------------------------------------------------------------
    async def _on_started(self, run_id: str) -> None:
        self._started[run_id] = time.perf_counter()
        run = await self.store.update("notebook_runs", run_id, {"status": "running", "started_at": ids.now_iso()})
        self.events.emit("notebook_run.started", run["workspace_id"], run)

    async def _on_finished(self, run_id: str, outcome: Outcome) -> None:
        began = self._started.pop(run_id, None)
        changes = {"status": outcome.status, "finished_at": ids.now_iso(), "error": outcome.error,
                   "reason": outcome.reason,
                   "duration_ms": round((time.perf_counter() - began) * 1000, 2) if began is not None else 0.0}
        try:
            run = await self.store.update("notebook_runs", run_id, changes)
        except NotFound:  # deleted with its job or agent meanwhile
            run = {"id": run_id, **changes}
        else:
            self.events.emit("notebook_run.finished", run["workspace_id"], run)
            await self._settle_session(run)
        end = self._ends.pop(run_id, None)
        if end is not None and not end.done():
            end.set_result(run)

    async def _settle_session(self, run: dict[str, Any]) -> None:
        """A failed run fails its session; a session made for a successful run completes with it."""
        if not run.get("session_id"):
            return
        session = await self.store.get("agent_sessions", run["session_id"])
        if session is None or session["status"] in ("completed", "failed"):
            return
        why = describe_end(run)
        if why is not None:
            await self.sessions.fail(run["workspace_id"], run["session_id"], why)
        elif run.get("made_session"):
            try:
                await self.sessions.update(run["workspace_id"], run["session_id"], {"status": "completed"})
            except NotFound:
                pass

    # -- reading and cancelling ---------------------------------------------------------------
    async def get(self, workspace_id: str, run_id: str) -> dict[str, Any]:
        return await get_owned(self.store, "notebook_runs", run_id, workspace_id, "notebook run")

    async def list(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        return await self.store.query("notebook_runs", scoped(workspace_id, filters), limit=limit, after=after,
                                      order=order)

    async def cancel(self, workspace_id: str, run_id: str, who: str) -> dict[str, Any]:
        """Stop a queued or running run (its kernel is shut down); 409 when it has ended."""
        run = await self.get(workspace_id, run_id)
        if run["status"] in OVER:
            raise Conflict(f"notebook run {run_id} has ended ({run['status']})")
        end = self._ends.get(run_id)
        if self.runner is None or not self.runner.cancel(run_id, f"cancelled by {who}"):
            # Not this server's (another server on a shared database, or one that stopped): record it.
            try:
                run = await self.store.update("notebook_runs", run_id, {
                    "status": "cancelled", "finished_at": ids.now_iso(), "reason": f"cancelled by {who}"},
                    expect={"status": run["status"]})
            except Conflict:
                return await self.get(workspace_id, run_id)
            self.events.emit("notebook_run.finished", workspace_id, run)
            return run
        if end is not None:
            return await asyncio.shield(end)
        return await self.get(workspace_id, run_id)

    async def fail_interrupted_runs(self) -> int:
        """Runs left queued or running by a server that stopped without recording their end (a crash).

        On a database shared with other servers, another server's run may be going on: only this server's
        own (it has just started, so none of them runs) and runs older than the longest timeout are failed.
        """
        stale = [r for status in ("queued", "running") for r in await self.store.all("notebook_runs",
                                                                                    {"status": status})]
        if self.store.shared:
            cutoff = ids.format_time(time.time() - MAX_TIMEOUT_SECONDS - 60)
            stale = [r for r in stale if r.get("runner") == self.server_id or r["created_at"] < cutoff]
        for run in stale:
            await self.store.update("notebook_runs", run["id"], {
                "status": "failed", "finished_at": ids.now_iso(), "reason": INTERRUPTED,
                "error": {"cell_index": None, "ename": "ServerStopped", "evalue": INTERRUPTED}})
        return len(stale)
