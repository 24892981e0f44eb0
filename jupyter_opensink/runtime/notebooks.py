"""Runs notebooks in kernels of their own, on the server's event loop, a bounded number at a time.

Parameters go in the way papermill puts them (its ``parameterize_notebook``: a cell tagged
``injected-parameters`` after the one tagged ``parameters``, each value written as a literal by its
translator), so notebooks written for papermill or jupyter-scheduler run unchanged. Cells run through
nbclient's async API in a kernel started from the server's own kernel spec manager, so the kernels a
person can pick in JupyterLab are the ones a run can name.

nbclient's ``async_execute`` is not used as a whole: it installs SIGINT/SIGTERM handlers on the loop and
removes them afterwards, which would take the Jupyter server's own stop handler away after the first
run. The kernel's life is handled here instead: started, its cells run one by one, and shut down in a
``finally`` that a cancel or a timeout cannot skip (the shutdown is shielded and awaited by ``stop``).

At most ``max_concurrent`` kernels run at once; the rest wait in the order they came. A run is stopped
by a cancel, by its timeout or by the server stopping: each kills its kernel and says which it was.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

log = logging.getLogger(__name__)

#: Seconds a kernel gets to start and answer ``kernel_info``.
KERNEL_START_TIMEOUT = 60.0


@dataclass
class Execution:
    """One notebook to run: where it is, where its executed copy goes, and how."""

    run_id: str
    source: Path
    output: Path
    parameters: dict[str, Any]
    kernel_name: str | None
    timeout: float
    env: dict[str, str] = field(default_factory=dict)  # added to the server's environment


@dataclass
class Outcome:
    """How a run ended: ``success``, ``failed``, ``timeout`` or ``cancelled`` (with ``reason``)."""

    status: str
    error: dict[str, Any] | None = None
    reason: str | None = None
    #: Milliseconds spent on the kernel's side: starting it, running the cells, shutting it down.
    kernel_start_ms: float = 0.0
    execute_ms: float = 0.0
    shutdown_ms: float = 0.0


Started = Callable[[str], Awaitable[Any]]
Finished = Callable[[str, Outcome], Awaitable[Any]]


class _Stopped(Exception):
    """Raised into a run's cells when it is stopped (the kernel is killed)."""


@dataclass
class _Entry:
    execution: Execution
    started: Started
    finished: Finished
    task: asyncio.Task | None = None
    stop_status: str | None = None  # "cancelled" or "timeout" once asked to stop
    stop_reason: str | None = None
    timer: asyncio.TimerHandle | None = None
    kernel: Any = None  # the kernel manager once started


class NotebookRunner:
    def __init__(self, kernel_spec_manager: Any, *, max_concurrent: int = 2):
        self.kernel_spec_manager = kernel_spec_manager
        self.max_concurrent = max(1, max_concurrent)
        self._queue: deque[str] = deque()
        self._entries: dict[str, _Entry] = {}
        self._running: set[str] = set()
        self._shutdowns: set[asyncio.Task] = set()
        self._stopping = False

    # -- what exists --------------------------------------------------------------------------
    def kernel_names(self) -> set[str] | None:
        """The kernels a run may name; None when no spec manager is known (then any name is tried)."""
        if self.kernel_spec_manager is None:
            return None
        return set(self.kernel_spec_manager.find_kernel_specs())

    @property
    def running(self) -> list[str]:
        return list(self._running)

    @property
    def queued(self) -> list[str]:
        return list(self._queue)

    # -- queueing -----------------------------------------------------------------------------
    def submit(self, execution: Execution, started: Started, finished: Finished) -> None:
        """Queue a run; it starts when a slot is free (``started`` is awaited then, ``finished`` at its end)."""
        if self._stopping:
            raise RuntimeError("the notebook runner is stopping")
        self._entries[execution.run_id] = _Entry(execution, started, finished)
        self._queue.append(execution.run_id)
        self._pump()

    def _pump(self) -> None:
        while self._queue and len(self._running) < self.max_concurrent and not self._stopping:
            run_id = self._queue.popleft()
            entry = self._entries[run_id]
            self._running.add(run_id)
            entry.task = asyncio.ensure_future(self._run(entry))

    def cancel(self, run_id: str, reason: str, *, status: str = "cancelled") -> bool:
        """Stop a queued or running run of this server; False when it has none by that id."""
        entry = self._entries.get(run_id)
        if entry is None:
            return False
        if entry.stop_status is None:
            entry.stop_status, entry.stop_reason = status, reason
        if entry.task is None:  # still queued: it never starts
            self._queue.remove(run_id)
            del self._entries[run_id]
            task = asyncio.ensure_future(entry.finished(run_id, Outcome(status, reason=reason)))
            self._shutdowns.add(task)
            task.add_done_callback(self._shutdowns.discard)
        else:
            entry.task.cancel()
        return True

    async def stop(self, reason: str) -> None:
        """Every queued and running run ends ``cancelled`` with ``reason``; returns once each kernel is gone."""
        self._stopping = True
        for run_id in list(self._queue) + list(self._running):
            self.cancel(run_id, reason)
        while self._entries or self._shutdowns:
            tasks = [e.task for e in self._entries.values() if e.task is not None] + list(self._shutdowns)
            if not tasks:
                break
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- one run ------------------------------------------------------------------------------
    async def _run(self, entry: _Entry) -> None:
        execution = entry.execution
        outcome = Outcome("failed")
        try:
            await entry.started(execution.run_id)
            loop = asyncio.get_running_loop()
            entry.timer = loop.call_later(execution.timeout, functools.partial(
                self.cancel, execution.run_id, f"ran longer than its timeout of {execution.timeout:g} s",
                status="timeout"))
            outcome = await self._execute(entry)
        except asyncio.CancelledError:
            outcome = Outcome("cancelled")
        except Exception as exc:  # a bug here, not the notebook's: still record the run
            log.exception("notebook run %s failed inside the server", execution.run_id)
            outcome = Outcome("failed", error={"cell_index": None, "ename": type(exc).__name__, "evalue": str(exc)})
        finally:
            if entry.timer is not None:
                entry.timer.cancel()
            self._running.discard(execution.run_id)
            self._entries.pop(execution.run_id, None)
        if entry.stop_status is not None:  # stopped: whatever the cells raised on the way out says nothing
            outcome.status, outcome.reason = entry.stop_status, entry.stop_reason
            outcome.error = None
        try:
            await entry.finished(execution.run_id, outcome)
        except Exception:
            log.exception("could not record the end of notebook run %s", execution.run_id)
        finally:
            self._pump()

    async def _execute(self, entry: _Entry) -> Outcome:
        from jupyter_client.manager import AsyncKernelManager
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, DeadKernelError
        from papermill.execute import prepare_notebook_metadata, remove_error_markers
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        execution = entry.execution
        book = await asyncio.to_thread(load_notebook_node, str(execution.source))
        if execution.parameters:  # as papermill does: no injected cell without parameters
            book = parameterize_notebook(book, execution.parameters, kernel_name=execution.kernel_name)
        book = remove_error_markers(prepare_notebook_metadata(book, str(execution.source), str(execution.output)))
        kernel_name = execution.kernel_name or book.metadata.get("kernelspec", {}).get("name") or "python3"
        timings = Outcome("success")
        await self._write(book, execution.output)

        client = NotebookClient(book, timeout=None, allow_errors=False, kernel_name=kernel_name,
                                resources={"metadata": {"path": str(execution.source.parent)}})
        client.reset_execution_trackers()
        manager_args: dict[str, Any] = {"kernel_name": kernel_name}
        if self.kernel_spec_manager is not None:
            manager_args["kernel_spec_manager"] = self.kernel_spec_manager
        manager = AsyncKernelManager(**manager_args)
        entry.kernel = manager
        kernel_client = None
        started = time.perf_counter()
        cell_index: int | None = None
        try:
            await manager.start_kernel(env={**os.environ, **execution.env}, cwd=str(execution.source.parent))
            kernel_client = manager.client()
            kernel_client.start_channels()
            await kernel_client.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
            kernel_client.allow_stdin = False
            client.km, client.kc = manager, kernel_client
            timings.kernel_start_ms = _ms_since(started)
            running = time.perf_counter()
            for cell_index, cell in enumerate(book.cells):
                await client.async_execute_cell(cell, cell_index, execution_count=client.code_cells_executed + 1)
                if cell.cell_type == "code" and cell.source.strip():
                    await self._write(book, execution.output)  # a person opening it sees how far it got
            timings.execute_ms = _ms_since(running)
            cell_index = None
        except CellExecutionError as exc:
            timings.status = "failed"
            timings.error = {"cell_index": cell_index, "ename": exc.ename, "evalue": exc.evalue}
        except DeadKernelError as exc:
            timings.status = "failed"
            timings.error = {"cell_index": cell_index, "ename": "DeadKernelError", "evalue": str(exc)}
        except asyncio.CancelledError:
            timings.status = "cancelled"
        except Exception as exc:  # the kernel did not start (unknown name, a broken spec), a timeout waiting for it
            timings.status = "failed"
            timings.error = {"cell_index": cell_index, "ename": type(exc).__name__, "evalue": str(exc)}
        finally:
            stopping = time.perf_counter()
            await self._shut_down(manager, kernel_client)
            timings.shutdown_ms = _ms_since(stopping)
            # Where the run's time went on the kernel's side (the rest is the server's): benchmarks read it.
            book.metadata["opensink"] = {"run_id": execution.run_id, "kernel_start_ms": timings.kernel_start_ms,
                                         "execute_ms": timings.execute_ms, "shutdown_ms": timings.shutdown_ms}
            try:
                await asyncio.shield(self._write(book, execution.output))
            except asyncio.CancelledError:
                pass
            except OSError:
                log.exception("could not write the output of notebook run %s", execution.run_id)
        return timings

    async def _shut_down(self, manager: Any, kernel_client: Any) -> None:
        """Kill the kernel and free what it held; a cancel arriving meanwhile does not stop this halfway."""

        async def shut_down() -> None:
            if kernel_client is not None:
                try:
                    kernel_client.stop_channels()
                except Exception:
                    log.debug("stopping a run's kernel channels", exc_info=True)
            try:
                if manager.has_kernel:
                    await manager.shutdown_kernel(now=True)
            except Exception:
                log.exception("could not shut a notebook run's kernel down")
            try:
                cleaned = manager.cleanup_resources()  # a coroutine on the async manager
                if inspect.isawaitable(cleaned):
                    await cleaned
            except Exception:
                log.debug("cleaning up a run's kernel files", exc_info=True)

        task = asyncio.ensure_future(shut_down())
        self._shutdowns.add(task)
        task.add_done_callback(self._shutdowns.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.shield(task)  # cancelled twice: still wait for the kernel to be gone

    @staticmethod
    async def _write(book: Any, output: Path) -> None:
        def write() -> None:
            output.parent.mkdir(parents=True, exist_ok=True)
            partial = output.with_name(f".{output.name}.partial")
            nbformat.write(book, partial)
            os.replace(partial, output)

        await asyncio.to_thread(write)


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
