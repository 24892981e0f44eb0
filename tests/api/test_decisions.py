"""Decisions and context through HTTP: the fields on the wire, the 400 with violations, the answer in the
callback, the event and the activity, MCP's ask_human, the client (the rules: tests/services/test_decisions.py)."""

from __future__ import annotations

import asyncio

from .test_callbacks import ask
from .test_mcp import (error_of, mcp_client, mcp_url, mode,  # noqa: F401 (fixtures)
                       on_the_mcp_worker, pending_request)

TRADE = {"type": "object", "required": ["symbol", "quantity"], "properties": {
    "symbol": {"type": "string", "title": "Symbol"},
    "quantity": {"type": "integer", "title": "Quantity", "minimum": 1, "maximum": 1000}}}
PROPOSAL = {"symbol": "AAPL", "quantity": 100}
CONTEXT = [{"title": "Why", "data": {"text/markdown": "Momentum **+3%**", "text/plain": "Momentum +3%"}}]
__all__ = ["ask"]


async def propose(api, agent, **fields):
    session = (await api("POST", "/v1/agent-sessions", {"agent_id": agent["id"]})).body
    reply = await api("POST", "/v1/agent-session-input-requests", {
        "session_id": session["id"], "agent_id": agent["id"], "key": "trade", "title": "Buy AAPL?",
        "message": "The signal fired.", "schema": TRADE, **fields})
    return reply


async def test_an_edited_approval_reaches_the_agent_with_its_patch(api, ask, receiver, opensink_app):
    agent, _, _ = await ask({"url": receiver.url("/trader")})
    resolved_events = []
    stop = opensink_app.events.subscribe(
        lambda event: resolved_events.append(event.data) if event.type == "input_request.resolved" else None)
    created = await propose(api, agent, defaults=PROPOSAL, context=CONTEXT, decisions=["approve", "reject"])
    assert created.status == 201, created.body
    request = created.body
    assert (request["defaults"], request["context"], request["decisions"]) == (PROPOSAL, CONTEXT,
                                                                              ["approve", "reject"])
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body == request
    path = f"/v1/agent-session-input-requests/{request['id']}/resolve"
    done = await api("POST", path, {"decision": "approve", "response": {"symbol": "AAPL", "quantity": 40},
                                    "comment": "smaller"})
    assert done.status == 200, done.body
    patch = [{"op": "replace", "path": "/quantity", "value": 40}]
    assert (done.body["decision"], done.body["changes"], done.body["comment"]) == ("approve", patch, "smaller")
    (call,) = await receiver.wait_for(1)
    assert call.json["answer"] == {"decision": "approve", "comment": "smaller",
                                   "response": {"symbol": "AAPL", "quantity": 40}, "changes": patch,
                                   "resolved_by_name": done.body["resolved_by_name"]}
    activities = (await api("GET", "/v1/agent-session-activities",
                            params={"session_id": request["session_id"], "type": "input_request_resolved"})).body
    (resolved,) = activities["items"]
    assert resolved["payload"]["answer"] == call.json["answer"] and resolved["message"].startswith("Approved:")
    stop()
    (event,) = resolved_events
    assert event["answer"] == call.json["answer"] and event["id"] == request["id"]


async def test_a_rejection_and_the_refusals_on_the_wire(api, ask):
    agent, _, _ = await ask(None)
    request = (await propose(api, agent, defaults=PROPOSAL, decisions=["approve", "reject"])).body
    path = f"/v1/agent-session-input-requests/{request['id']}/resolve"
    bad = await api("POST", path, {"decision": "approve", "response": {"symbol": "AAPL", "quantity": 0}})
    assert bad.status == 400 and bad.body["violations"] == [
        {"path": "/quantity", "field": "Quantity", "message": "must be at least 1"}]
    assert (await api("POST", path, {"decision": "maybe"})).status == 400
    assert (await api("POST", path, {"decision": "respond", "comment": "x"})).status == 400  # not offered
    assert (await api("POST", path, {"decision": "reject", "comment": "x" * 4001})).status == 400
    done = await api("POST", path, {"decision": "reject", "comment": "not before earnings"})
    assert done.status == 200 and (done.body["decision"], done.body["response"]) == ("reject", None)
    session = (await api("GET", f"/v1/agent-sessions/{request['session_id']}")).body
    assert session["status"] == "processing_input"


async def test_bad_proposals_are_400_with_violations(api, ask):
    agent, _, _ = await ask(None)
    bad = await propose(api, agent, defaults={"symbol": "AAPL", "quantity": 5000})
    assert bad.status == 400 and bad.body["violations"] == [
        {"path": "/quantity", "field": "Quantity", "message": "must be at most 1000"}]
    assert (await propose(api, agent, context=[{"data": {"application/x-evil": "x"}}])).status == 400
    assert (await propose(api, agent, decisions=[])).status == 400
    assert (await propose(api, agent, context=[{"data": {"text/plain": "x"}}] * 21)).status == 400


@on_the_mcp_worker
async def test_ask_human_offers_decisions_and_returns_them(mcp_client, make_key, api):
    async with mcp_client(key=await make_key()) as client:
        call = asyncio.create_task(client.call_tool("ask_human", {
            "title": "Deploy?", "message": "v2 is ready", "defaults": {}, "decisions": ["approve", "reject"],
            "context": [{"data": {"text/plain": "all tests pass"}}], "timeout_seconds": 30}))
        request = await pending_request(api)
        assert request["decisions"] == ["approve", "reject"] and request["schema"] == {"type": "object",
                                                                                       "properties": {}}
        assert request["context"] == [{"data": {"text/plain": "all tests pass"}}]
        reply = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
                          {"decision": "reject", "comment": "wait for Monday"})
        assert reply.status == 200, reply.body
        result = await asyncio.wait_for(call, 10)
    assert not result.is_error, error_of(result)
    answer = result.structured_content
    assert (answer["decision"], answer["comment"], answer["changes"]) == ("reject", "wait for Monday", None)


async def test_a_key_answers_under_its_name(api, ask, make_key):
    agent, _, _ = await ask(None)
    request = (await propose(api, agent, decisions=["approve"], defaults=PROPOSAL)).body
    key = await make_key(scopes=["agent_session_input_requests:write"])
    done = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
                     {"decision": "approve", "response": PROPOSAL}, key=key)
    assert done.status == 200 and done.body["resolved_by_name"] == "test key" and done.body["changes"] == []
