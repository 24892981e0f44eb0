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


def iopub_until(kc, done, timeout: float = 30) -> list[dict]:
    """The kernel's output messages until ``done(messages)`` holds (bounded by ``timeout``)."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while not done(seen):
        left = deadline - time.monotonic()
        assert left > 0, [m["msg_type"] for m in seen]
        try:
            seen.append(kc.get_iopub_msg(timeout=min(left, 1)))
        except Exception:  # noqa: BLE001 (queue.Empty: nothing yet)
            continue
    return seen


def shown_text(messages: list[dict]) -> str:
    return "\n".join(m["content"].get("data", {}).get("text/plain", "") for m in messages
                     if m["msg_type"] in ("display_data", "update_display_data"))


def test_a_cell_agent_asks_logs_and_shows_its_failures_in_the_notebook(server):
    """In a real kernel: ``bot.ask`` waits in the cell and shows the question; a handler that raises shows
    its traceback in the serve() cell, fails the session with the message, and its delivery records it."""
    env = {"OPENSINK_URL": server.url, "OPENSINK_API_KEY": server.key}
    km, kc = start_new_kernel(kernel_name="python3", env={**__import__("os").environ, **env})
    client = Client(server.url, server.key)
    try:
        reply = kc.execute_interactive(textwrap.dedent("""
            from jupyter_opensink.agent import NotebookAgent
            bot = NotebookAgent("careful agent")
            handled = []

            @bot.handler
            def on_answer(call):
                handled.append(call.request["id"])
                call.log("checking the answer")
                return {"state": {"limit": call.response["limit"]}}   # a KeyError for {"ok": ...}

            bot.serve()
        """), timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        kc.execute_interactive("print(bot.agent_id)", timeout=30, output_hook=lambda m: None)
        agent_id = next(a["id"] for a in client.agents.list()["items"] if a["name"] == "careful agent")

        # bot.ask waits in its cell, showing the question; the answer returns there, not to the handler
        kc.execute("answer = bot.ask('Ship it?', timeout=30); print('ANSWER', answer.decision, bot.session_id)")
        pending = None
        deadline = time.monotonic() + 20
        while pending is None and time.monotonic() < deadline:
            found = client.input_requests.list(agent_id=agent_id, status="pending")["items"]
            pending = found[0] if found else None
            time.sleep(0.05)
        assert pending is not None and pending["decisions"] == ["approve", "reject"]
        client.input_requests.resolve(pending["id"], {}, decision="approve")
        messages = iopub_until(kc, lambda seen: any("ANSWER" in m["content"].get("text", "") for m in seen))
        printed = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
        assert f"ANSWER approve {pending['session_id']}" in printed
        assert "Waiting for an answer to 'Ship it?'" in shown_text(messages)
        assert "Approved by" in shown_text(messages)  # the same output, updated in place

        # a handler that raises: the traceback in the notebook, the session failed, the delivery too
        session, request = ask(client, agent_id)
        client.input_requests.resolve(request["id"], {"ok": True})
        messages = iopub_until(kc, lambda seen: "Traceback" in shown_text(seen))
        assert "KeyError: 'limit'" in shown_text(messages) and "careful agent" in shown_text(messages)
        failed = asyncio.run(settled(client, session["id"]))
        assert failed["status"] == "failed" and failed["error_message"] == "KeyError: 'limit'"
        (delivery,) = client.execution_deliveries.list(session_id=session["id"])["items"]
        assert delivery["status_code"] == 202
        assert delivery["error"] == "the agent failed while handling it: KeyError: 'limit'"
        logged = client.activities.list(session_id=session["id"], type="message")["items"]
        assert [a["message"] for a in logged] == ["checking the answer"]
        handled = []
        kc.execute_interactive("print(len(handled))", timeout=30,
                               output_hook=lambda m: handled.append(m["content"].get("text", "")))
        assert "".join(handled).strip() == "1"  # the asked question never reached the handler
    finally:
        client.close()
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_ask_in_a_kernel_is_answered_in_the_inbox_widget_of_another_notebook(server):
    """A kernel waits in ``Client().ask``; a person answers in the notebook inbox elsewhere (here, this
    process, as another notebook's kernel would): the waiting cell gets the decision and the comment."""
    from jupyter_opensink.widgets import Inbox

    env = {"OPENSINK_URL": server.url, "OPENSINK_API_KEY": server.key}
    km, kc = start_new_kernel(kernel_name="python3", env={**__import__("os").environ, **env})
    client = Client(server.url, server.key)
    try:
        kc.execute("from jupyter_opensink.client import Client\n"
                   "answer = Client().ask('Rotate the keys?', agent='rotator', timeout=60)\n"
                   "print('ANSWER', answer.decision, answer.comment)")
        inbox = Inbox(client, live=False)
        deadline = time.monotonic() + 30
        while not any(f.request["title"] == "Rotate the keys?" for f in inbox.forms.values()):
            assert time.monotonic() < deadline, "the question never reached the inbox"
            time.sleep(0.1)
            inbox.refresh()
        form = next(f for f in inbox.forms.values() if f.request["title"] == "Rotate the keys?")
        assert set(form.decision_buttons) == {"approve", "reject"} and form.submit_button is None
        form.comment.value = "after the audit"
        form.reject_button.click()
        messages = iopub_until(kc, lambda seen: any("ANSWER" in m["content"].get("text", "") for m in seen))
        printed = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
        assert "ANSWER reject after the audit" in printed
        assert "Rejected by" in inbox.notes[0].status.value
    finally:
        client.close()
        kc.stop_channels()
        km.shutdown_kernel(now=True)
