"""Decisions, proposals and context on input requests: the rules on the services, on both stores (the
route, its 400 shapes and the callback: tests/api/test_decisions.py)."""

from __future__ import annotations

import base64

import pytest

from jupyter_opensink.errors import Invalid
from jupyter_opensink.services.schemas import SchemaMismatch

from .test_sessions import flow, request  # noqa: F401 (a fixture)

TRADE = {"type": "object", "required": ["symbol", "quantity"], "properties": {
    "symbol": {"type": "string", "title": "Symbol"},
    "quantity": {"type": "integer", "title": "Quantity", "minimum": 1, "maximum": 1000},
    "note": {"type": "string"}}}
PROPOSAL = {"symbol": "AAPL", "quantity": 100}
PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


async def ask(services, workspace_id, flow, **changes):
    agent, _, session = flow
    return await services.input_requests.create(workspace_id, request(agent, session, schema=TRADE, **changes))


async def test_approved_as_proposed_records_no_changes(services, workspace_id, flow):
    asked = await ask(services, workspace_id, flow, defaults=PROPOSAL, decisions=["approve", "reject"])
    assert asked["defaults"] == PROPOSAL and asked["decision"] is None and asked["changes"] is None
    done = await services.input_requests.resolve(workspace_id, asked["id"], dict(PROPOSAL), decision="approve",
                                                 resolved_by="user:a", resolved_by_name="Ada")
    assert (done["decision"], done["changes"], done["comment"]) == ("approve", [], None)
    assert done["response"] == PROPOSAL and done["resolved_by_name"] == "Ada"


async def test_an_edit_is_recorded_as_a_json_patch(services, workspace_id, flow):
    asked = await ask(services, workspace_id, flow, defaults=PROPOSAL, decisions=["approve"])
    done = await services.input_requests.resolve(workspace_id, asked["id"],
                                                 {"symbol": "AAPL", "quantity": 50, "note": "half"},
                                                 decision="approve", comment="too much at once")
    assert sorted(done["changes"], key=lambda op: op["path"]) == [
        {"op": "add", "path": "/note", "value": "half"}, {"op": "replace", "path": "/quantity", "value": 50}]
    assert done["comment"] == "too much at once"


async def test_a_reject_needs_no_valid_form_and_keeps_the_reason(services, workspace_id, flow):
    asked = await ask(services, workspace_id, flow, defaults=PROPOSAL, decisions=["approve", "reject"])
    done = await services.input_requests.resolve(workspace_id, asked["id"], None, decision="reject",
                                                 comment="not before earnings")
    assert (done["decision"], done["response"], done["changes"]) == ("reject", None, None)
    assert done["comment"] == "not before earnings" and done["status"] == "resolved"
    session = await services.sessions.get(workspace_id, asked["session_id"])
    assert session["status"] == "processing_input"


async def test_a_reply_needs_words_and_sends_no_response(services, workspace_id, flow):
    asked = await ask(services, workspace_id, flow, decisions=["approve", "respond"])
    with pytest.raises(Invalid, match="a reply needs words"):
        await services.input_requests.resolve(workspace_id, asked["id"], PROPOSAL, decision="respond", comment="  ")
    done = await services.input_requests.resolve(workspace_id, asked["id"], PROPOSAL, decision="respond",
                                                 comment="buy MSFT instead")
    assert (done["decision"], done["response"], done["comment"]) == ("respond", None, "buy MSFT instead")


@pytest.mark.parametrize("decisions, response, decision, expected", [
    (None, {"symbol": "A", "quantity": 1}, "approve", "takes a plain answer"),
    (None, None, None, "response: required"),
    (["approve", "reject"], {"symbol": "A", "quantity": 1}, None, "asks for a decision: one of approve, reject"),
    (["approve"], None, "reject", "reject is not offered here; one of approve"),
    (["approve", "reject"], None, "approve", "required to approve"),
])
async def test_answers_the_request_does_not_allow_are_refused(services, workspace_id, flow, decisions, response,
                                                              decision, expected):
    asked = await ask(services, workspace_id, flow, decisions=decisions)
    with pytest.raises(Invalid) as refused:
        await services.input_requests.resolve(workspace_id, asked["id"], response, decision=decision)
    assert expected in refused.value.message
    assert (await services.input_requests.get(workspace_id, asked["id"]))["status"] == "pending"


async def test_a_plain_answer_is_the_hosted_apis(services, workspace_id, flow):
    asked = await ask(services, workspace_id, flow)
    done = await services.input_requests.resolve(workspace_id, asked["id"], {"symbol": "A", "quantity": 2})
    assert (done["decision"], done["comment"], done["changes"]) == (None, None, None)


async def test_a_sent_response_is_checked_on_a_reject_too(services, workspace_id, flow):
    asked = await ask(services, workspace_id, flow, decisions=["reject"])
    with pytest.raises(SchemaMismatch) as refused:
        await services.input_requests.resolve(workspace_id, asked["id"], {"quantity": 0}, decision="reject")
    assert [v.as_dict() for v in refused.value.violations] == [
        {"path": "/quantity", "field": "Quantity", "message": "must be at least 1"},
        {"path": "/symbol", "field": "Symbol", "message": "is required"}]


@pytest.mark.parametrize("services", ["tinydb"], indirect=True)  # refused before anything is stored
@pytest.mark.parametrize("changes, expected", [
    ({"defaults": {"symbol": "AAPL", "quantity": 5000}}, "defaults does not match the schema: quantity: must be "
                                                         "at most 1000"),
    ({"defaults": {"quantity": 5}}, "symbol: is required"),
    ({"context": [{"data": {"application/javascript": "alert(1)"}}]}, "application/javascript cannot be shown"),
    ({"context": [{"data": {}}]}, "give at least one type"),
    ({"context": [{"data": {"image/png": "not base64!"}}]}, "is not valid base64"),
    ({"context": [{"data": {"text/html": {"a": 1}}}]}, "must be text"),
    ({"context": [{"data": {"application/json": "text"}}]}, "must be a JSON object or array"),
    ({"context": [{"data": {"text/plain": "x" * (1024 * 1024)}}] * 3}, "at most 2 MiB in all"),
    ({"decisions": ["approve", "approve"]}, "at most once"),
])
async def test_proposals_and_context_are_checked_at_create(services, workspace_id, flow, changes, expected):
    with pytest.raises(Invalid) as refused:
        await ask(services, workspace_id, flow, **changes)
    assert expected in refused.value.message


async def test_context_is_kept_as_sent(services, workspace_id, flow):
    context = [{"title": "Chart", "data": {"image/png": PIXEL, "text/plain": "a chart"}},
               {"data": {"text/markdown": "**up** 3%", "application/json": {"change": 3}}}]
    asked = await ask(services, workspace_id, flow, context=context)
    assert (await services.input_requests.get(workspace_id, asked["id"]))["context"] == context
