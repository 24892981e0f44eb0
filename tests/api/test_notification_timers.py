"""Reminders, escalations and on_expiry on real timers (seconds apart), against local receivers.

System tests: they wait on the clock. The server's shortest reminder interval is set to 1 s
(``notification_min_remind_seconds``) so a test takes seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import time

import pytest

pytestmark = [pytest.mark.system, pytest.mark.opensink(notification_min_remind_seconds=1)]

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}}


def in_seconds(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + seconds)) + \
        f".{int((time.time() % 1) * 1000):03d}Z"


@pytest.fixture
def started(jp_serverapp, jp_asyncio_loop):
    """The start hook arms the timers (expiry, follow-ups)."""
    jp_asyncio_loop.run_until_complete(jp_serverapp._post_start())


async def channel(api, receiver, path: str, **fields) -> dict:
    reply = await api("POST", "/v1/notification-channels",
                      {"name": path.strip("/"), "url": f"json://127.0.0.1:{receiver.port}{path}", **fields})
    assert reply.status == 201, reply.body
    return reply.body


async def ask(api, endpoint: dict | None = None, **fields) -> tuple[dict, dict]:
    agent = (await api("POST", "/v1/agents", {"name": "trader", "execution_endpoint": endpoint})).body
    session = (await api("POST", "/v1/agent-sessions", {"agent_id": agent["id"]})).body
    reply = await api("POST", "/v1/agent-session-input-requests", {
        "session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "Ship it?", "message": "m",
        "schema": SCHEMA, **fields})
    assert reply.status == 201, reply.body
    return agent, reply.body


def titles(receiver, path: str) -> list[str]:
    return [c.json["title"] for c in receiver.calls if c.path == path]


async def test_reminders_and_the_escalation_arrive_in_order_and_stop_once_answered(api, receiver, started):
    team = await channel(api, receiver, "/team")  # told of new requests: reminders go there too
    boss = await channel(api, receiver, "/boss", events=["session.failed"])  # only the escalation names it
    # seconds apart, so that on a busy machine one message is out before the next is due
    _, request = await ask(api, remind_every_seconds=2, escalate_after_seconds=3, escalate_to=[boss["id"]])
    deadline = time.monotonic() + 30
    while len(titles(receiver, "/team")) < 3 or not titles(receiver, "/boss"):
        assert time.monotonic() < deadline, [c.json for c in receiver.calls]
        await asyncio.sleep(0.05)
    team_titles = titles(receiver, "/team")
    assert team_titles[:3] == ["trader: Ship it?", "Reminder 1: trader: Ship it?", "Reminder 2: trader: Ship it?"]
    assert titles(receiver, "/boss") == ["Escalated: trader: Ship it?"]
    first_reminder = next(c.at for c in receiver.calls if c.json["title"].startswith("Reminder 1"))
    escalated = next(c.at for c in receiver.calls if c.path == "/boss")
    assert escalated > first_reminder
    escalation = next(c.json for c in receiver.calls if c.path == "/boss")
    assert "has had no answer" in escalation["message"] and "Answer here: " in escalation["message"]
    reply = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve", {"response": {"ok": True}})
    assert reply.status == 200
    await asyncio.sleep(0.3)  # a reminder already on its way may still land
    count = len(receiver.calls)
    await asyncio.sleep(4.5)  # two more reminders would have been due
    assert len(receiver.calls) == count, [c.json["title"] for c in receiver.calls[count:]]
    assert titles(receiver, "/boss") == ["Escalated: trader: Ship it?"]  # once
    records = (await api("GET", "/v1/notification-deliveries", params={"request_id": request["id"]})).body["items"]
    assert {r["event"] for r in records} == {"input_request.created", "input_request.reminder",
                                             "input_request.escalated"}
    assert all(r["ok"] for r in records)
    assert team["id"] in {r["channel_id"] for r in records}


async def test_on_expiry_reject_answers_as_a_rejection_and_calls_the_agent_back(api, receiver, started):
    await channel(api, receiver, "/expired", events=["input_request.expired"])
    agent, request = await ask(api, {"url": receiver.url("/agent")}, expires_at=in_seconds(1.5), on_expiry="reject")
    deadline = time.monotonic() + 15
    while not any(c.path == "/agent" for c in receiver.calls) or not titles(receiver, "/expired"):
        assert time.monotonic() < deadline, [c.path for c in receiver.calls]
        await asyncio.sleep(0.05)
    callback = next(c.json for c in receiver.calls if c.path == "/agent")
    assert callback["request_id"] == request["id"]
    assert callback["answer"] == {"decision": "reject", "comment": "expired", "response": None, "changes": None,
                                  "resolved_by_name": "no answer in time"}
    resolved = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert resolved["status"] == "resolved" and resolved["resolved_by"] == "system"
    assert resolved["decision"] == "reject" and resolved["comment"] == "expired"
    session = (await api("GET", f"/v1/agent-sessions/{resolved['session_id']}")).body
    assert session["status"] == "processing_input"  # the agent goes on with the rejection
    (told,) = [c.json for c in receiver.calls if c.path == "/expired"]
    assert told["title"].startswith("Expired") and "rejected automatically" in told["message"]


async def test_a_plain_expiry_tells_the_channels_and_sends_no_callback(api, receiver, started):
    await channel(api, receiver, "/expired", events=["input_request.expired"])
    _, request = await ask(api, {"url": receiver.url("/agent")}, expires_at=in_seconds(1))
    deadline = time.monotonic() + 15
    while not titles(receiver, "/expired"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert "It expired." in receiver.calls[-1].json["message"]
    assert not any(c.path == "/agent" for c in receiver.calls)
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body["status"] == "expired"
