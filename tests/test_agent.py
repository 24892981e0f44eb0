"""Notebook agents: a plain function receiving real callbacks, in this process and in a real kernel."""

from __future__ import annotations

import asyncio
import textwrap
import time

import pytest
from jupyter_client.manager import start_new_kernel

from jupyter_opensink.agent import NotebookAgent
from jupyter_opensink.client import Client

from .servers import start_server

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("agent")
    running = start_server(base / "work", base / "db", "--OpenSinkApp.fsync=never")
    with running.client() as admin:
        running.key = admin.post("/api-keys", json={"name": "agent tests"}).json()["key"]
    yield running
    running.stop()


def ask(client: Client, agent_id: str) -> tuple[dict, dict]:
    session = client.agent_sessions.create(agent_id=agent_id)
    request = client.input_requests.create(session_id=session["id"], agent_id=agent_id, key="go", title="Go?",
                                           message="m", schema=SCHEMA)
    return session, request


async def settled(client: Client, session_id: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session = client.agent_sessions.get(session_id)
        if session["status"] in ("completed", "failed", "waiting_for_input"):
            return session
        await asyncio.sleep(0.05)
    raise AssertionError(f"session {session_id} did not settle: {session}")


def test_agent_function_completes_or_fails_its_session(server):
    async def main() -> None:
        client = Client(server.url, server.key)
        bot = NotebookAgent("prototype", client=client)  # checks callbacks with the secret its create shows
        answers = []

        @bot.handler
        async def on_answer(call):
            answers.append(call.response)
            if not call.response["ok"]:
                raise RuntimeError("the human said no")
            if call.request["key"] == "go":
                call.client.input_requests.create(session_id=call.session["id"], agent_id=call.agent["id"],
                                                  key="again", title="Sure?", message="m", schema=SCHEMA)
                return {"state": {"asked_twice": True}}
            return {"state": {"done": True}}

        bot.serve()  # a loop is running here: starts and returns
        assert bot.agent["execution_endpoint"]["url"] == bot.url
        session, request = ask(client, bot.agent["id"])
        client.input_requests.resolve(request["id"], {"ok": True})
        waiting = await settled(client, session["id"])
        assert waiting["status"] == "waiting_for_input" and waiting["state"] == {"asked_twice": True}
        second = client.input_requests.list(session_id=session["id"], status="pending")["items"][0]
        client.input_requests.resolve(second["id"], {"ok": True})
        await asyncio.sleep(0.2)
        done = await settled(client, session["id"])
        assert done["status"] == "completed" and done["state"] == {"done": True}
        failing, request = ask(client, bot.agent["id"])
        client.input_requests.resolve(request["id"], {"ok": False})
        failed = await settled(client, failing["id"])
        assert failed["status"] == "failed" and "the human said no" in failed["error_message"]
        assert answers == [{"ok": True}, {"ok": True}, {"ok": False}]
        # A caller without the secret is refused: the session fails with the endpoint's 401.
        impostor = NotebookAgent("prototype", client=client, secret="whsec_" + "A" * 44)
        impostor.start()
        session, request = ask(client, impostor.agent["id"])
        client.input_requests.resolve(request["id"], {"ok": True})
        refused = await settled(client, session["id"])
        assert refused["status"] == "failed" and "401" in refused["error_message"]
        await impostor.astop()
        await bot.astop()
        assert client.agents.get(bot.agent["id"])["execution_endpoint"] is None
        client.close()

    asyncio.run(main())


def test_agent_runs_on_a_real_kernels_loop(server):
    """The same code, typed into a real IPython kernel launched with the server's environment."""
    env = {"OPENSINK_URL": server.url, "OPENSINK_API_KEY": server.key}
    km, kc = start_new_kernel(kernel_name="python3", env={**__import__("os").environ, **env})
    try:
        cell = textwrap.dedent("""
            from jupyter_opensink.agent import NotebookAgent
            bot = NotebookAgent("kernel agent")

            @bot.handler
            def on_answer(call):
                return {"state": {"answer": call.response}}

            bot.serve()
            print(bot.agent["id"])
        """)
        output = []
        reply = kc.execute_interactive(cell, timeout=60, output_hook=lambda msg: output.append(msg))
        assert reply["content"]["status"] == "ok", reply["content"]
        agent_id = "".join(m["content"].get("text", "") for m in output if m["msg_type"] == "stream").strip()
        client = Client(server.url, server.key)
        session, request = ask(client, agent_id)
        client.input_requests.resolve(request["id"], {"ok": True})
        done = asyncio.run(settled(client, session["id"]))
        assert done["status"] == "completed" and done["state"] == {"answer": {"ok": True}}
        client.close()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
