"""Notebook runs' rules on the service itself: where a target may point, how a run's end is told, and what a
restart or a cancel records when no kernel of this server holds the run (real kernels: tests/test_notebook_runs.py)."""

from __future__ import annotations

import os

import nbformat
import pytest

from jupyter_opensink.errors import Conflict, Invalid
from jupyter_opensink.services.notebook_runs import INTERRUPTED, describe_end


@pytest.fixture
def runs(services, tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), root / "sub" / "book.ipynb")
    outside = tmp_path / "outside.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), outside)
    os.symlink(outside, root / "escape.ipynb")
    services.notebook_runs.root_dir = root
    return services.notebook_runs


def test_a_target_is_normalised_with_its_defaults(runs):
    assert runs.check_target({"path": "sub\\book.ipynb"}) == {
        "path": "sub/book.ipynb", "parameters": {}, "kernel_name": None, "timeout_seconds": 600}
    assert runs.locate("sub/book.ipynb") == (runs.root_dir / "sub" / "book.ipynb").resolve()


@pytest.mark.parametrize("path", ["../outside.ipynb", "sub/../../outside.ipynb", "/sub/book.ipynb", "C:/x.ipynb",
                                  "escape.ipynb", "sub", "sub/missing.ipynb", "sub/book.txt", "."])
def test_paths_leaving_the_root_or_naming_no_notebook_are_refused(runs, path):
    with pytest.raises(Invalid):
        runs.locate(path)


def test_without_a_root_no_target_is_accepted(services):
    with pytest.raises(Invalid, match="root_dir"):
        services.notebook_runs.locate("book.ipynb")


def test_a_runs_end_in_a_sentence():
    base = {"path": "r.ipynb", "reason": "ran longer than its timeout of 5 s", "error": None}
    assert describe_end({**base, "status": "success"}) is None
    assert describe_end({**base, "status": "timeout"}) == "notebook r.ipynb timed out: ran longer than its timeout of 5 s"
    failed = {**base, "status": "failed", "error": {"cell_index": 3, "ename": "KeyError", "evalue": "'x'"}}
    assert describe_end(failed) == "notebook r.ipynb failed at cell 3: KeyError: 'x'"


async def stored_run(services, workspace_id: str, status: str) -> dict:
    return await services.store.insert("notebook_runs", {
        "workspace_id": workspace_id, "path": "r.ipynb", "job_id": None, "agent_id": None, "session_id": None,
        "status": status, "parameters": {}, "started_at": None, "finished_at": None, "duration_ms": None,
        "output_path": "opensink-runs/r.ipynb", "error": None, "reason": None})


async def test_a_restart_fails_what_was_queued_or_running_and_leaves_ended_runs(services, workspace_id):
    queued, running, done = [await stored_run(services, workspace_id, s) for s in ("queued", "running", "success")]
    assert await services.notebook_runs.fail_interrupted_runs() == 2
    for run in (queued, running):
        after = await services.notebook_runs.get(workspace_id, run["id"])
        assert after["status"] == "failed" and after["reason"] == INTERRUPTED and after["finished_at"]
        assert after["error"]["ename"] == "ServerStopped"
    assert (await services.notebook_runs.get(workspace_id, done["id"]))["status"] == "success"


async def test_a_run_no_kernel_here_holds_is_cancelled_by_record_and_an_ended_one_is_a_conflict(services,
                                                                                               workspace_id):
    queued = await stored_run(services, workspace_id, "queued")
    cancelled = await services.notebook_runs.cancel(workspace_id, queued["id"], "Ada")
    assert cancelled["status"] == "cancelled" and cancelled["reason"] == "cancelled by Ada"
    with pytest.raises(Conflict):
        await services.notebook_runs.cancel(workspace_id, queued["id"], "Ada")
