"""Notebook runs for real: a Jupyter server process runs notebooks in kernels it starts.

Jobs on a cron with seconds, agents run by a callback, a webhook's run, failures, timeouts, cancels,
the concurrency bound, ``ask()`` from inside a run, and a stop with a run in flight (no kernel process
may outlive it).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import nbformat
import psutil
import pytest

from .servers import RunningServer, start_server, until

OVER = ("success", "failed", "timeout", "cancelled")


def notebook(path: Path, parameters: str, *cells: str) -> None:
    """A notebook whose first cell is tagged ``parameters`` (papermill's convention)."""
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        *(nbformat.v4.new_code_cell(source) for source in cells)])
    book.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(book, path)


def write_notebooks(root: Path) -> None:
    notebook(root / "reports" / "daily.ipynb", "region = 'nowhere'\nlimit = 0\nfilters = {}",
             "total = limit * 2\nprint(f'report for {region}: {total}', sorted(filters))")
    notebook(root / "agent.ipynb", "session_id = None\nrequest_id = None\nanswer = None\npayload = None",
             "import json\nprint('ANSWER', json.dumps({'session_id': session_id, 'request_id': request_id, "
             "'answer': answer, 'payload': payload}))")
    notebook(root / "failing.ipynb", "divisor = 0", "x = 1", "print(1 / divisor)", "print('never')")
    notebook(root / "sleepy.ipynb", "seconds = 60", "import time\ntime.sleep(seconds)\nprint('slept')")
    notebook(root / "asking.ipynb", "",
             "from jupyter_opensink.client import Client\n"
             "answer = Client().ask('Publish the report?', message='Three rows changed.')\n"
             "print('DECISION', answer.decision, answer.comment)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("notebook-runs")
    write_notebooks(base / "work")
    running = start_server(base / "work", base / "db", "--OpenSinkApp.fsync=never")
    running.workdir = base / "work"
    yield running
    running.stop()


@pytest.fixture
def http(server):
    with server.client() as client:
        yield client


def runs(http: httpx.Client, **filters: str) -> list[dict]:
    reply = http.get("/notebook-runs", params={"$order": "asc", **filters})
    assert reply.status_code == 200, reply.text
    return reply.json()["items"]


def ended(http: httpx.Client, run_id: str, timeout: float = 90) -> dict:
    def check():
        run = http.get(f"/notebook-runs/{run_id}").json()
        return run if run["status"] in OVER else None

    return until(check, timeout, f"the end of notebook run {run_id}")


def job(http: httpx.Client, path: str, **notebook_fields: Any) -> dict:
    schedule = notebook_fields.pop("schedule", {"cron": "0 0 1 1 *", "enabled": False})
    reply = http.post("/background-jobs", json={"name": path, **schedule, "notebook": {"path": path, **notebook_fields}})
    assert reply.status_code == 201, reply.text
    return reply.json()


def trigger(http: httpx.Client, job_id: str) -> dict:
    """Trigger a job and return its notebook run (recorded as soon as the job's run starts)."""
    reply = http.post(f"/background-jobs/{job_id}/trigger")
    assert reply.status_code == 201, reply.text
    return until(lambda: runs(http, job_id=job_id)[-1:], 30, "the notebook run")[0]


def output(server: RunningServer, run: dict) -> nbformat.NotebookNode:
    return nbformat.read(server.workdir / run["output_path"], as_version=4)


def printed(book: nbformat.NotebookNode) -> str:
    return "".join(out.get("text", "") for cell in book.cells for out in cell.get("outputs", [])
                   if out.get("output_type") == "stream")


def test_a_cron_notebook_runs_with_its_parameters_injected_as_literals(server, http):
    sneaky = "x'); import os; os._exit(3) #\n\"\\"
    created = job(http, "reports/daily.ipynb", parameters={"region": sneaky, "limit": 21, "filters": {"a b": [1, None]}},
                  schedule={"cron": "*/2 * * * * *"})  # six fields: every two seconds
    run = until(lambda: [r for r in runs(http, job_id=created["id"]) if r["status"] in OVER], 60, "a cron run")[0]
    assert http.patch(f"/background-jobs/{created['id']}", json={"enabled": False}).status_code == 200
    assert run["status"] == "success", run
    assert run["parameters"] == {"region": sneaky, "limit": 21, "filters": {"a b": [1, None]}}
    assert run["output_path"].startswith("opensink-runs/daily-") and run["duration_ms"] > 0
    assert run["started_at"] and run["finished_at"] and run["error"] is None

    book = output(server, run)
    assert book.cells[0].metadata.tags == ["parameters"]
    injected = book.cells[1]
    assert injected.metadata.tags == ["injected-parameters"]
    values: dict[str, Any] = {}
    exec(injected.source, values)  # literals only: running them defines the three values and nothing else
    assert {k: values[k] for k in ("region", "limit", "filters")} == run["parameters"]
    assert printed(book) == f"report for {sneaky}: 42 ['a b']\n"
    assert book.metadata.papermill["parameters"] == run["parameters"]

    job_run = http.get("/background-job-runs", params={"job_id": created["id"], "$order": "asc"}).json()["items"][0]
    assert job_run["trigger"] == "schedule" and job_run["notebook_run_id"] == runs(http, job_id=created["id"])[0]["id"]
    session = http.get(f"/agent-sessions/{run['session_id']}").json()  # a session made for the run
    assert session["status"] == "completed" and session["metadata"] == {"notebook": "reports/daily.ipynb"}


def test_a_notebook_agent_runs_on_each_answer_and_sees_it(server, http):
    agent = http.post("/agents", json={"name": "notebook agent", "execution_notebook": {"path": "agent.ipynb"}}).json()
    assert agent["execution_notebook"]["path"] == "agent.ipynb"
    session = http.post("/agent-sessions", json={"agent_id": agent["id"]}).json()
    request = http.post("/agent-session-input-requests", json={
        "session_id": session["id"], "agent_id": agent["id"], "key": "go", "title": "Go?", "message": "m",
        "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}, "defaults": {"n": 1},
        "decisions": ["approve", "reject"]}).json()
    resolved = http.post(f"/agent-session-input-requests/{request['id']}/resolve",
                         json={"decision": "approve", "response": {"n": 2}, "comment": "fine"})
    assert resolved.status_code == 200, resolved.text
    run = ended(http, until(lambda: runs(http, agent_id=agent["id"]), 30, "the agent's run")[0]["id"])
    assert run["status"] == "success" and run["session_id"] == session["id"], run
    seen = json.loads(printed(output(server, run)).split("ANSWER ", 1)[1])
    assert seen["session_id"] == session["id"] and seen["request_id"] == request["id"]
    assert seen["answer"]["decision"] == "approve" and seen["answer"]["response"] == {"n": 2}
    assert seen["answer"]["comment"] == "fine" and seen["answer"]["changes"] == [{"op": "replace", "path": "/n", "value": 2}]

    # A webhook of type run_agent reaching the same agent: its payload is one parameter.
    hook = http.post("/webhooks", json={"path": "nb-agent", "action": {"type": "run_agent", "agent_id": agent["id"],
                                                                         "body": {"source": "hook"}}})
    assert hook.status_code == 201, hook.text
    invoked = http.post(server.url + "/hooks/nb-agent", json={"order-id": 7})
    assert invoked.status_code == 201, invoked.text
    webhook_run = ended(http, invoked.json()["notebook_run"]["id"])
    assert webhook_run["status"] == "success", webhook_run
    assert json.loads(printed(output(server, webhook_run)).split("ANSWER ", 1)[1])["payload"] == {
        "source": "hook", "order-id": 7}

    # A job naming the agent runs its notebook in a session made for the run.
    agent_job = http.post("/background-jobs", json={"name": "a", "cron": "0 0 1 1 *", "enabled": False,
                                                    "agent_id": agent["id"]}).json()
    job_run = ended(http, trigger(http, agent_job["id"])["id"])
    assert job_run["status"] == "success" and job_run["agent_id"] == agent["id"]
    assert job_run["session_id"] not in (session["id"], webhook_run["session_id"])


def test_a_failing_cell_fails_the_run_with_where_and_why(server, http):
    created = job(http, "failing.ipynb")
    run = ended(http, trigger(http, created["id"])["id"])
    assert run["status"] == "failed"
    assert run["error"] == {"cell_index": 2, "ename": "ZeroDivisionError", "evalue": "division by zero"}
    book = output(server, run)
    assert book.cells[2].outputs[0]["ename"] == "ZeroDivisionError" and "never" not in printed(book)
    job_run = until(lambda: [r for r in http.get("/background-job-runs", params={"job_id": created["id"]})
                                .json()["items"] if r["status"] != "running"], 30, "the job run's end")[0]
    assert job_run["status"] == "failed" and "failed at cell 2: ZeroDivisionError" in job_run["error_message"]
    session = http.get(f"/agent-sessions/{run['session_id']}").json()
    assert session["status"] == "failed" and "ZeroDivisionError" in session["error_message"]


def kernel_processes(server: RunningServer) -> list[psutil.Process]:
    """The server's kernels: its child processes running ipykernel."""
    found = []
    for child in psutil.Process(server.proc.pid).children(recursive=True):
        try:
            if "ipykernel" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def test_a_run_past_its_timeout_stops_its_kernel(server, http):
    created = job(http, "sleepy.ipynb", timeout_seconds=4)
    run = trigger(http, created["id"])
    until(lambda: http.get(f"/notebook-runs/{run['id']}").json()["status"] == "running", 30, "the start")
    run = ended(http, run["id"], 60)
    assert run["status"] == "timeout" and "timeout of 4 s" in run["reason"], run
    assert 4000 <= run["duration_ms"] < 30000
    assert "slept" not in printed(output(server, run))


def test_cancel_stops_a_running_run_and_refuses_an_ended_one(server, http):
    created = job(http, "sleepy.ipynb")
    run = trigger(http, created["id"])
    until(lambda: http.get(f"/notebook-runs/{run['id']}").json()["status"] == "running", 30, "the start")
    cancelled = http.post(f"/notebook-runs/{run['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["reason"].startswith("cancelled by")
    again = http.post(f"/notebook-runs/{run['id']}/cancel")
    assert again.status_code == 409, again.text
    job_run = until(lambda: [r for r in http.get("/background-job-runs", params={"job_id": created["id"]})
                                .json()["items"] if r["status"] != "running"], 30, "the job run's end")[0]
    assert job_run["status"] == "failed" and "was cancelled" in job_run["error_message"]


def test_two_run_at_once_and_the_third_waits_its_turn(server, http):
    created = [job(http, "sleepy.ipynb", parameters={"seconds": 3}) for _ in range(3)]
    triggered = [trigger(http, c["id"]) for c in created]

    def two_running_one_queued():
        statuses = [http.get(f"/notebook-runs/{r['id']}").json()["status"] for r in triggered]
        return statuses if sorted(statuses) == ["queued", "running", "running"] else None

    statuses = until(two_running_one_queued, 60, "two runs running and one queued")
    assert statuses[2] == "queued"  # in the order they came
    done = [ended(http, r["id"]) for r in triggered]
    assert [r["status"] for r in done] == ["success"] * 3
    first_end = min(r["finished_at"] for r in done[:2])
    assert done[2]["started_at"] >= first_end  # it started once a slot was free


def test_cancel_of_a_queued_run_never_starts_it(server, http):
    created = [job(http, "sleepy.ipynb", parameters={"seconds": 3}) for _ in range(3)]
    triggered = [trigger(http, c["id"]) for c in created]
    until(lambda: http.get(f"/notebook-runs/{triggered[2]['id']}").json()["status"] == "queued" or None, 30,
             "the third run queued")
    cancelled = http.post(f"/notebook-runs/{triggered[2]['id']}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["started_at"] is None
    for run in triggered[:2]:
        assert ended(http, run["id"])["status"] == "success"


def test_ask_inside_a_run_waits_for_the_answer_over_http(server, http):
    created = job(http, "asking.ipynb")
    run = trigger(http, created["id"])
    pending = until(lambda: http.get("/agent-session-input-requests", params={
        "session_id": run["session_id"], "status": "pending"}).json()["items"], 60, "the question")[0]
    assert pending["title"] == "Publish the report?"
    time.sleep(0.5)
    assert http.get(f"/notebook-runs/{run['id']}").json()["status"] == "running"  # it waits, running
    answered = http.post(f"/agent-session-input-requests/{pending['id']}/resolve",
                         json={"decision": "approve", "response": {}, "comment": "go ahead"})
    assert answered.status_code == 200, answered.text
    run = ended(http, run["id"])
    assert run["status"] == "success", run
    assert "DECISION approve go ahead" in printed(output(server, run))


def test_events_follow_a_run_from_start_to_end(server, http):
    created = job(http, "reports/daily.ipynb", parameters={"limit": 1})
    seen: list[tuple[str, dict]] = []
    with httpx.Client(base_url=server.api, headers={"Authorization": f"token {server.token}"}, timeout=60) as stream:
        with stream.stream("GET", "/events", params={"types": "notebook_run.started,notebook_run.finished"}) as events:
            run = trigger(http, created["id"])
            kind = None
            for line in events.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind in ("notebook_run.started", "notebook_run.finished"):
                    data = json.loads(line[6:])
                    if data["id"] == run["id"]:
                        seen.append((kind, data))
                        if kind == "notebook_run.finished":
                            break
    assert [k for k, _ in seen] == ["notebook_run.started", "notebook_run.finished"]
    assert seen[0][1]["status"] == "running" and seen[1][1]["status"] == "success"


def test_a_stop_cancels_runs_in_flight_and_leaves_no_kernel(tmp_path):
    write_notebooks(tmp_path / "work")
    server = start_server(tmp_path / "work", tmp_path / "db", "--OpenSinkApp.fsync=never")
    server.workdir = tmp_path / "work"
    kernels: list[psutil.Process] = []
    try:
        with server.client() as http:
            created = [job(http, "sleepy.ipynb") for _ in range(3)]
            triggered = [trigger(http, c["id"]) for c in created]
            until(lambda: len(kernel_processes(server)) == 2, 60, "two kernels running")
            kernels = kernel_processes(server)
        assert server.stop(signal.SIGTERM) == 0, server.log()[-3000:]
        gone, alive = psutil.wait_procs(kernels, timeout=10)
        assert not alive, [p.pid for p in alive]
    finally:
        for process in kernels:  # should the test fail, only what this server started is ended
            if process.is_running():
                process.kill()
        server.stop(signal.SIGKILL)
    restarted = start_server(tmp_path / "work", tmp_path / "db", "--OpenSinkApp.fsync=never")
    try:
        with restarted.client() as http:
            after = [http.get(f"/notebook-runs/{r['id']}").json() for r in triggered]
    finally:
        restarted.stop()
    assert [r["status"] for r in after] == ["cancelled"] * 3, after
    assert all(r["reason"] == "the server stopped while it ran" for r in after)


def test_a_restart_fails_runs_a_crash_left_running(tmp_path):
    write_notebooks(tmp_path / "work")
    server = start_server(tmp_path / "work", tmp_path / "db", "--OpenSinkApp.fsync=never")
    kernels: list[psutil.Process] = []
    try:
        with server.client() as http:
            run = trigger(http, job(http, "sleepy.ipynb")["id"])
            until(lambda: kernel_processes(server), 60, "the kernel running")
            kernels = kernel_processes(server)
    finally:
        server.stop(signal.SIGKILL)  # a crash: nothing is recorded
        for process in kernels:
            if process.is_running():
                process.kill()
    restarted = start_server(tmp_path / "work", tmp_path / "db", "--OpenSinkApp.fsync=never")
    try:
        with restarted.client() as http:
            after = http.get(f"/notebook-runs/{run['id']}").json()
    finally:
        restarted.stop()
    assert after["status"] == "failed" and after["reason"] == "the server stopped before the run finished", after
