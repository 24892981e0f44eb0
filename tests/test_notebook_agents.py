"""A notebook agent lives as long as its kernel: real kernels the Jupyter server started, restarted and
shut down; answers to an offline agent are held, delivered once when its cell runs again, or fail the
session once the hold runs out; a server restart leaves it offline."""

from __future__ import annotations

import json
import textwrap
import time

import httpx
import pytest
from jupyter_client.blocking import BlockingKernelClient

from .servers import start_server, until

HOLD_SECONDS = 6
CELL = textwrap.dedent("""
    from jupyter_opensink.agent import NotebookAgent
    bot = NotebookAgent("held agent")
    handled = []

    @bot.handler
    def on_answer(call):
        handled.append(call.request["id"])
        return {"state": {"handled": len(handled)}}

    bot.serve()
""")


class Kernels:
    """The server's kernels through its REST API, and a client to run cells in one."""

    def __init__(self, server):
        self.server = server
        self.api = server.url.removesuffix("opensink") + "api/kernels"
        self.http = httpx.Client(headers={"Authorization": f"token {server.token}"}, timeout=60)

    def start(self) -> str:
        return self.http.post(self.api, json={"name": "python3"}).json()["id"]

    def run(self, kernel_id: str, code: str) -> None:
        client = BlockingKernelClient()
        connection = self.server.workdir / "runtime" / f"kernel-{kernel_id}.json"
        client.load_connection_info(json.loads(connection.read_text()))
        client.start_channels(hb=False)  # readiness is the kernel_info reply; a loaded machine misses heartbeats
        try:
            client.wait_for_ready(timeout=60)
            reply = client.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
            assert reply["content"]["status"] == "ok", reply["content"]
        finally:
            client.stop_channels()

    def restart(self, kernel_id: str) -> None:
        assert self.http.post(f"{self.api}/{kernel_id}/restart").status_code == 200

    def shutdown(self, kernel_id: str) -> None:
        assert self.http.delete(f"{self.api}/{kernel_id}").status_code == 204


@pytest.fixture
def server(tmp_path):
    running = start_server(tmp_path / "work", tmp_path / "db", "--OpenSinkApp.fsync=never",
                           f"--OpenSinkApp.notebook_agent_hold_seconds={HOLD_SECONDS}")
    running.workdir = tmp_path / "work"
    running.db = tmp_path / "db"
    yield running
    running.stop()


def held_agent(admin: httpx.Client) -> dict:
    return next(a for a in admin.get("/agents").json()["items"] if a["name"] == "held agent")


def ask(admin: httpx.Client, agent: dict) -> tuple[dict, dict]:
    session = admin.post("/agent-sessions", json={"agent_id": agent["id"]}).json()
    request = admin.post("/agent-session-input-requests", json={
        "session_id": session["id"], "agent_id": agent["id"], "key": "go", "title": "Go?", "message": "m",
        "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}).json()
    return session, request


def test_answers_wait_for_a_notebook_agent_whose_kernel_restarted(server, tmp_path):
    kernels = Kernels(server)
    kernel_id = kernels.start()
    kernels.run(kernel_id, CELL)
    with server.client() as admin:
        agent = held_agent(admin)
        assert (agent["kernel_id"], agent["offline"]) == (kernel_id, False)
        assert "kernel_pid" not in agent and "kernel_server" not in agent
        session, request = ask(admin, agent)

        kernels.restart(kernel_id)  # same kernel id, a new process: the old endpoint is gone
        until(lambda: held_agent(admin)["offline"], what="the agent to go offline")
        reply = admin.post(f"/agent-session-input-requests/{request['id']}/resolve", json={"response": {"ok": True}})
        assert reply.status_code == 200
        waits = until(lambda: [a for a in admin.get("/agent-session-activities", params={
            "session_id": session["id"], "type": "message"}).json()["items"]], what="word of the wait")
        assert "The answer waits for the notebook: 'held agent' is offline" in waits[0]["message"]
        assert admin.get(f"/agent-sessions/{session['id']}").json()["status"] == "processing_input"
        assert admin.get("/execution-deliveries", params={"session_id": session["id"]}).json()["items"] == []

        kernels.run(kernel_id, CELL)  # the cell runs again: the agent serves, the answer is delivered once
        done = until(lambda: (s := admin.get(f"/agent-sessions/{session['id']}").json())["status"] == "completed"
                     and s, what="the held answer to be delivered")
        assert done["state"] == {"handled": 1}
        assert not held_agent(admin)["offline"]
        time.sleep(1)  # a second delivery would come now
        deliveries = admin.get("/execution-deliveries", params={"session_id": session["id"]}).json()["items"]
        assert [d["status_code"] for d in deliveries] == [202]

        # shut down for good: the answer waits HOLD_SECONDS, then the session fails saying why
        later, pending = ask(admin, held_agent(admin))
        kernels.shutdown(kernel_id)
        until(lambda: held_agent(admin)["offline"], what="the agent to go offline")
        admin.post(f"/agent-session-input-requests/{pending['id']}/resolve", json={"response": {"ok": True}})
        failed = until(lambda: (s := admin.get(f"/agent-sessions/{later['id']}").json())["status"] == "failed"
                       and s, timeout=HOLD_SECONDS + 15, what="the hold to run out")
        assert f"waited {HOLD_SECONDS} s for the notebook agent 'held agent'" in failed["error_message"]


def test_a_server_restart_leaves_notebook_agents_offline(server):
    kernels = Kernels(server)
    kernels.run(kernels.start(), CELL)
    with server.client() as admin:
        assert not held_agent(admin)["offline"]
    server.stop()
    again = start_server(server.workdir, server.db, "--OpenSinkApp.fsync=never", token=server.token)
    try:
        with again.client() as admin:
            assert held_agent(admin)["offline"]
    finally:
        again.stop()
