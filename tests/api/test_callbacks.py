"""Execution-endpoint callbacks against a real receiver on a loopback port."""

from __future__ import annotations

import asyncio
import base64
import getpass
import hashlib
import hmac
import time

import pytest

from ..servers import free_port

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


@pytest.fixture
def ask(api):
    """``await ask(endpoint)`` -> (agent, session, pending request)."""

    async def make(endpoint: dict | None, **agent_fields) -> tuple[dict, dict, dict]:
        agent = (await api("POST", "/v1/agents", {"name": "a", "execution_endpoint": endpoint, **agent_fields})).body
        return agent, *await ask_again(api, agent)

    return make


async def ask_again(api, agent: dict) -> tuple[dict, dict]:
    """A new session of ``agent`` and a pending request in it."""
    session = (await api("POST", "/v1/agent-sessions", {"agent_id": agent["id"]})).body
    request = (await api("POST", "/v1/agent-session-input-requests", {
        "session_id": session["id"], "agent_id": agent["id"], "key": "go", "title": "Go?", "message": "m",
        "schema": SCHEMA})).body
    return session, request


async def resolve(api, request: dict) -> None:
    reply = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve", {"response": {"ok": True}})
    assert reply.status == 200, reply.body


def verify_signature(secret: str, headers: dict, body: bytes) -> bool:
    """An independent Standard Webhooks check, as a receiver would write it."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['Webhook-Id']}.{headers['Webhook-Timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    fresh = abs(time.time() - int(headers["Webhook-Timestamp"])) < 300
    return fresh and any(hmac.compare_digest(expected, sig.split(",", 1)[1])
                         for sig in headers["Webhook-Signature"].split() if sig.startswith("v1,"))


async def default_workspace(api) -> dict:
    workspaces = (await api("GET", "/v1/workspaces")).body["items"]
    return [w for w in workspaces if w["is_default"]][0]


async def deliveries(api, session_id: str) -> list[dict]:
    return (await api("GET", "/v1/execution-deliveries", params={"session_id": session_id})).body["items"]


async def test_post_callback_carries_everything(api, ask, receiver):
    endpoint = {"url": receiver.url("/agents/trader"), "headers": {"X-Team": "quant"},
                "body": {"mode": "live", "session_id": "must not win", "request_id": "nor this"}}
    agent, session, request = await ask(endpoint)
    await resolve(api, request)
    (call,) = await receiver.wait_for(1)
    assert call.method == "POST" and call.path == "/agents/trader"
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["X-Team"] == "quant"
    assert call.headers["X-Opensink-Session-Id"] == session["id"]
    assert call.headers["X-Opensink-Request-Id"] == request["id"]
    secret = agent["execution_secret"]  # the agent's own, shown when it was created
    assert secret.startswith("whsec_") and secret != (await default_workspace(api))["execution_secret"]
    assert call.headers["X-Opensink-Secret"] == secret
    # the Jupyter token's user is anonymous: the answer is recorded under the account's name
    answered = {"decision": None, "comment": None, "response": {"ok": True}, "changes": None,
                "resolved_by_name": getpass.getuser()}
    assert call.json == {"mode": "live", "session_id": session["id"], "request_id": request["id"],
                         "answer": answered}
    assert verify_signature(secret, call.headers, call.body)
    (record,) = await deliveries(api, session["id"])
    assert record["status_code"] == 200 and record["error"] is None and record["request_id"] == request["id"]
    # one stable id per answered request (also when the call is repeated after a crash), for deduplication
    assert call.headers["Webhook-Id"] == request["id"]
    assert record["url"] == endpoint["url"] and record["method"] == "POST" and record["duration_ms"] > 0
    by_agent = (await api("GET", "/v1/execution-deliveries", params={"agent_id": agent["id"]})).body["items"]
    assert by_agent == [record]
    assert (await api("GET", f"/v1/agent-sessions/{session['id']}")).body["status"] == "processing_input"


async def test_get_callback_has_no_body(api, ask, receiver):
    agent, session, request = await ask({"url": receiver.url("/poke?x=1"), "method": "GET"})
    await resolve(api, request)
    (call,) = await receiver.wait_for(1)
    assert call.method == "GET" and call.body == b""
    assert call.headers["X-Opensink-Request-Id"] == request["id"]
    assert verify_signature(agent["execution_secret"], call.headers, b"")


async def test_resolve_does_not_wait_for_the_callback(api, ask, receiver):
    receiver.delay = 3.0  # far longer than a resolve takes, also on a busy machine running tests side by side
    _, session, request = await ask({"url": receiver.url()})
    started = time.monotonic()
    await resolve(api, request)
    assert time.monotonic() - started < 2.0
    await receiver.wait_for(1)


async def assert_failed(api, agent: dict, session: dict, expected: str) -> dict:
    for _ in range(200):
        current = (await api("GET", f"/v1/agent-sessions/{session['id']}")).body
        if current["status"] == "failed":
            break
        await asyncio.sleep(0.02)
    assert current["status"] == "failed" and expected in current["error_message"], current
    assert (await api("GET", f"/v1/agents/{agent['id']}")).body["status"] == "failed"
    types = [a["type"] for a in (await api("GET", "/v1/agent-session-activities",
                                           params={"session_id": session["id"], "$order": "asc"})).body["items"]]
    assert types[-1] == "session_ended"
    (record,) = await deliveries(api, session["id"])
    assert expected in record["error"]
    return record


async def test_error_reply_fails_the_session(api, ask, receiver):
    receiver.status = 500
    agent, session, request = await ask({"url": receiver.url()})
    await resolve(api, request)
    record = await assert_failed(api, agent, session, "answered 500")
    assert record["status_code"] == 500


async def test_redirects_are_not_followed(api, ask, receiver):
    receiver.status = 302
    receiver.headers_out = {"Location": "http://127.0.0.1:1/elsewhere"}
    agent, session, request = await ask({"url": receiver.url()})
    await resolve(api, request)
    await assert_failed(api, agent, session, "answered 302")
    assert len(receiver.calls) == 1


async def test_closed_port_fails_the_session(api, ask):
    agent, session, request = await ask({"url": f"http://127.0.0.1:{free_port()}/run"})
    await resolve(api, request)
    await assert_failed(api, agent, session, "connection refused")


async def test_blocked_address_fails_the_session(api, ask):
    agent, session, request = await ask({"url": "http://169.254.169.254/latest/meta-data"})
    await resolve(api, request)
    record = await assert_failed(api, agent, session, "169.254.169.254, which the callback URL policy blocks")
    assert record["status_code"] is None


async def test_rotated_secret_is_used_for_the_next_callback(api, ask, receiver):
    agent, _, first = await ask({"url": receiver.url()})
    await resolve(api, first)
    rotated = await api("POST", f"/v1/agents/{agent['id']}/rotate-secret")
    assert rotated.status == 200 and rotated.body["id"] == agent["id"]
    new_secret = rotated.body["execution_secret"]
    assert new_secret.startswith("whsec_") and new_secret != agent["execution_secret"]
    _, second = await ask_again(api, agent)
    await resolve(api, second)
    calls = await receiver.wait_for(2)
    assert calls[0].headers["X-Opensink-Secret"] == agent["execution_secret"]
    assert calls[1].headers["X-Opensink-Secret"] == new_secret
    assert verify_signature(new_secret, calls[1].headers, calls[1].body)
    assert not verify_signature(agent["execution_secret"], calls[1].headers, calls[1].body)


async def test_each_agent_has_its_own_secret_never_shown_again(api, ask, receiver, make_key):
    """An agent pointed at its owner's host learns its own secret only: it cannot forge another's callback."""
    mine, _, request_a = await ask({"url": receiver.url("/mine")})
    other, _, request_b = await ask({"url": receiver.url("/other")})
    assert mine["execution_secret"] != other["execution_secret"]
    await resolve(api, request_a)
    await resolve(api, request_b)
    calls = {c.path: c for c in await receiver.wait_for(2)}
    assert verify_signature(other["execution_secret"], calls["/other"].headers, calls["/other"].body)
    assert not verify_signature(mine["execution_secret"], calls["/other"].headers, calls["/other"].body)
    assert calls["/other"].headers["X-Opensink-Secret"] != mine["execution_secret"]
    key = await make_key()
    for credential in (None, key):  # the Jupyter user and a key with every scope
        got = (await api("GET", f"/v1/agents/{mine['id']}", key=credential)).body
        listed = (await api("GET", "/v1/agents", key=credential)).body["items"]
        patched = (await api("PATCH", f"/v1/agents/{mine['id']}", {"description": "d"}, key=credential)).body
        assert "execution_secret" not in got and "execution_secret" not in patched
        assert all("execution_secret" not in a for a in listed)


async def test_workspace_secret_mode_is_the_hosted_behaviour(api, ask, receiver):
    """callback_secret "workspace": every agent's callbacks carry the workspace's secret, as hosted."""
    workspace = await default_workspace(api)
    assert workspace["callback_secret"] == "agent"  # new workspaces: per-agent secrets
    changed = await api("PATCH", f"/v1/workspaces/{workspace['id']}", {"callback_secret": "workspace"})
    assert changed.status == 200 and changed.body["callback_secret"] == "workspace"
    agent, _, request = await ask({"url": receiver.url()})
    await resolve(api, request)
    (call,) = await receiver.wait_for(1)
    assert call.headers["X-Opensink-Secret"] == workspace["execution_secret"]
    assert verify_signature(workspace["execution_secret"], call.headers, call.body)
    bad = await api("PATCH", f"/v1/workspaces/{workspace['id']}", {"callback_secret": "mine"})
    assert bad.status == 400 and "callback_secret" in bad.body["error"]


async def test_agent_without_endpoint_is_not_called(api, ask, receiver):
    _, session, request = await ask(None)
    await resolve(api, request)
    assert await deliveries(api, session["id"]) == []
    assert (await api("GET", f"/v1/agent-sessions/{session['id']}")).body["status"] == "processing_input"


async def test_a_callback_interrupted_by_a_stop_is_made_at_the_next_start(api, ask, receiver, opensink_app):
    """The resolve is durable with its outbox entry; if the server stops before the call is made,
    the next start makes it (same webhook-id), and the entry is cleared once it is settled."""
    agent, session, request = await ask({"url": receiver.url("/agent")})
    await opensink_app.dispatcher.stop()  # as if the server died right after acknowledging the resolve
    await resolve(api, request)
    await asyncio.sleep(0.2)
    assert receiver.calls == []
    if opensink_app.store.shared:
        # Another server on the database may be making this call right now: the entry is left
        # alone until a callback's lease has passed, then claimed by one server.
        assert await opensink_app.services.deliveries.unsent() == []
        await opensink_app.store.update("callback_outbox", request["id"], {"created_at": "2000-01-01T00:00:00.000Z"})
    else:
        assert [r["id"] for r in await opensink_app.services.deliveries.unsent()] == [request["id"]]
    opensink_app.dispatcher.start()
    await opensink_app._start_jupyter_server_extension(opensink_app.serverapp)  # the next start
    (call,) = await receiver.wait_for(1)
    assert call.json["request_id"] == request["id"] and call.headers["Webhook-Id"] == request["id"]
    await opensink_app.dispatcher.drain()
    assert await opensink_app.services.deliveries.unsent() == []
    session_now = (await api("GET", f"/v1/agent-sessions/{session['id']}")).body
    assert session_now["status"] == "processing_input"


async def test_cloud_metadata_as_an_ipv4_mapped_address_is_blocked_by_default(api, ask):
    agent, session, request = await ask({"url": "http://[::ffff:169.254.169.254]/latest/meta-data/"})
    await resolve(api, request)
    record = await assert_failed(api, agent, session, "which the callback URL policy blocks")
    assert record["status_code"] is None


async def test_a_call_that_cannot_be_sent_fails_the_session_and_the_job_run(api, ask, receiver, opensink_app):
    """A header value stored before such values were refused: the call fails with the reason, it is
    recorded, and nothing stays waiting (the session is failed, the job's run too)."""
    agent, session, request = await ask({"url": receiver.url()})
    endpoint = {**agent["execution_endpoint"], "headers": {"X-Team": "\u00e9quipe"}}
    await opensink_app.store.update("agents", agent["id"], {"execution_endpoint": endpoint})
    await resolve(api, request)
    record = await assert_failed(api, agent, session, "could not be made: UnicodeEncodeError")
    assert record["status_code"] is None
    job = (await api("POST", "/v1/background-jobs", {"name": "j", "interval_minutes": 1440, "enabled": False,
                                                     "agent_id": agent["id"]})).body
    run = (await api("POST", f"/v1/background-jobs/{job['id']}/trigger")).body
    for _ in range(250):
        run = (await api("GET", f"/v1/background-job-runs/{run['id']}")).body
        if run["status"] != "running":
            break
        await asyncio.sleep(0.02)
    assert run["status"] == "failed" and "UnicodeEncodeError" in run["error_message"]
    assert receiver.calls == []


async def test_data_stored_before_secrets_per_agent(api, ask, receiver, opensink_app):
    """A workspace stored without callback_secret keeps the workspace's secret (its agents were set up with
    it); switched to per-agent secrets, an agent stored without one fails its callback, saying what to do."""
    workspace = await default_workspace(api)
    await opensink_app.store.update("workspaces", workspace["id"], {"callback_secret": None})
    assert (await default_workspace(api))["callback_secret"] == "workspace"
    agent, session, request = await ask({"url": receiver.url()})
    await opensink_app.store.update("agents", agent["id"], {"execution_secret": None})
    await resolve(api, request)
    (call,) = await receiver.wait_for(1)
    assert call.headers["X-Opensink-Secret"] == workspace["execution_secret"]
    await api("PATCH", f"/v1/workspaces/{workspace['id']}", {"callback_secret": "agent"})
    agent, session, request = await ask({"url": receiver.url()})
    await opensink_app.store.update("agents", agent["id"], {"execution_secret": None})
    await resolve(api, request)
    await assert_failed(api, agent, session, "has no execution secret of its own yet: rotate it")
    assert len(receiver.calls) == 1
    rotated = (await api("POST", f"/v1/agents/{agent['id']}/rotate-secret")).body
    _, request = await ask_again(api, agent)
    await resolve(api, request)
    calls = await receiver.wait_for(2)
    assert verify_signature(rotated["execution_secret"], calls[1].headers, calls[1].body)
