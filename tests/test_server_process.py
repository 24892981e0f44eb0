"""The installed extension in real server processes: enabling, restarts, kills."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

from pathlib import Path

import httpx
import pytest

from jupyter_opensink import __version__, ids

from .servers import start_server


def test_extension_is_enabled_by_installation():
    """``pip install`` alone enables it: the config file ships as the wheel's shared data."""
    jupyter = Path(sys.executable).parent / "jupyter"
    out = subprocess.run([str(jupyter), "server", "extension", "list"], capture_output=True, text=True, check=True)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    assert re.search(r"^\s*jupyter_opensink enabled$", text, re.M), text
    assert re.search(rf"^\s*jupyter_opensink {re.escape(__version__)} OK$", text, re.M), text


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_keys_and_workspaces_survive_a_restart(tmp_path, stop_signal):
    db = tmp_path / "db"
    server = start_server(tmp_path / "one", db)
    try:
        with server.client() as admin:
            team = admin.post("/workspaces", json={"name": "Team"}).json()
            created = admin.post("/api-keys", json={"name": "agent", "workspace_id": team["id"],
                                                    "scopes": ["sinks:read"]})
            assert created.status_code == 201
            key = created.json()["key"]
            default = [w for w in admin.get("/workspaces").json()["items"] if w["is_default"]][0]
    finally:
        code = server.stop(stop_signal)
    if stop_signal == signal.SIGTERM:
        # A clean stop flushes the store: the journal is folded into the TinyDB snapshot.
        assert code == 0, server.log()
        assert "Traceback" not in server.log(), server.log()
        assert (db / "opensink.json").exists()
    else:
        assert not (db / "opensink.json").exists()  # only the journal holds the writes
    server = start_server(tmp_path / "two", db)
    try:
        with server.client() as admin:
            workspaces = admin.get("/workspaces").json()["items"]
            assert {w["id"] for w in workspaces} == {team["id"], default["id"]}
            assert [w for w in workspaces if w["is_default"]][0]["execution_secret"] == default["execution_secret"]
            keys = [k for k in admin.get("/api-keys").json()["items"] if k["managed"] != "kernel"]
            assert [k["name"] for k in keys] == ["agent"] and keys[0]["scopes"] == ["sinks:read"]
            managed = [k for k in admin.get("/api-keys").json()["items"] if k["managed"] == "kernel"]
            assert len(managed) == 1  # the kernels' key is replaced at each start, never piled up
        with server.client(key) as agent:
            # The key still authenticates (it is only refused for its role here).
            reply = agent.get("/api-keys")
            assert reply.status_code == 403 and "only the Jupyter user" in reply.json()["error"]
    finally:
        server.stop()


def test_second_server_on_the_same_database_is_refused(tmp_path):
    db = tmp_path / "db"
    server = start_server(tmp_path / "one", db)
    try:
        with pytest.raises(RuntimeError, match="in use by another process"):
            start_server(tmp_path / "two", db, "--ServerApp.reraise_server_extension_failures=True", timeout=30)
    finally:
        server.stop()


def test_a_server_whose_extension_failed_to_load_stops_on_sigterm(tmp_path):
    """With an invalid callback_blocked_networks the load fails (and says why); a later
    SIGTERM hung in stop_extension, which touched parts never built, until SIGKILL."""
    import time

    server = start_server(tmp_path / "bad", tmp_path / "db", "--OpenSinkApp.callback_blocked_networks=['not-a-net']",
                          ready_path="api/status")
    try:
        assert "is not a network" in server.log() and "not-a-net" in server.log()
        with server.client() as client:
            assert client.get("/workspaces").status_code == 404  # not loaded
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        assert "Traceback" not in server.log().split("received signal 15")[-1]
        assert not (tmp_path / "db").exists()  # the configuration is checked before the store is opened
    finally:
        server.stop(signal.SIGKILL)


def test_jupyterlab_serves_the_api_and_the_lab_page(tmp_path):
    """What the README's run command starts: JupyterLab with the API beside it."""
    server = start_server(tmp_path / "lab", tmp_path / "db", app="lab")
    try:
        with server.client() as admin:
            assert admin.get("/workspaces").status_code == 200
        lab = httpx.get(server.url.removesuffix("opensink") + "lab", params={"token": server.token}, timeout=30)
        assert lab.status_code == 200 and "jupyter" in lab.text.lower()
    finally:
        assert server.stop() == 0


def test_jobs_are_reloaded_at_start(tmp_path):
    """A job created before a restart fires after it (runs against a closed port still get recorded)."""
    import time

    from .servers import free_port

    db = tmp_path / "db"
    server = start_server(tmp_path / "one", db)
    try:
        with server.client() as admin:
            job = admin.post("/background-jobs", json={"name": "tick", "cron": "* * * * * *",
                                                       "url": f"http://127.0.0.1:{free_port()}/x"}).json()
    finally:
        server.stop()
    restarted_at = time.time()
    server = start_server(tmp_path / "two", db)
    try:
        with server.client() as admin:
            deadline = time.monotonic() + 10
            runs = []
            while time.monotonic() < deadline and len(runs) < 2:
                time.sleep(0.2)
                runs = [r for r in admin.get("/background-job-runs", params={"job_id": job["id"]}).json()["items"]
                        if r["status"] == "failed" and r["started_at"] > ids.format_time(restarted_at)]
            assert len(runs) >= 2, runs
            assert "connection refused" in runs[0]["error_message"]
    finally:
        server.stop()
