"""Approval policies and the audit chain: the rules on the services, on both stores (the routes, keys refused,
the callback and exports: tests/api/test_policies.py)."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_opensink import ids
from jupyter_opensink.errors import Invalid
from jupyter_opensink.services.audit import AUDIT, GENESIS, chain_hash
from jupyter_opensink.store import Delete, Update

from .test_decisions import PROPOSAL, TRADE
from .test_sessions import flow, request  # noqa: F401 (a fixture)

SMALL = {"properties": {"defaults": {"properties": {"quantity": {"maximum": 10}}}}}


def policy(**fields):
    return {"name": "small trades", "agent_id": None, "request_key": None, "when": SMALL, "decision": "approve",
            "comment": None, "priority": 0, "enabled": True, "expires_at": None, **fields}


async def ask(services, workspace_id, agent, session, *, quantity=5, decisions=("approve", "reject"), **changes):
    values = request(agent, session, schema=TRADE, defaults={"symbol": "AAPL", "quantity": quantity},
                     decisions=list(decisions) if decisions else None, **changes)
    return await services.input_requests.create(workspace_id, values)


async def test_a_matching_policy_decides_at_creation_and_says_so(services, workspace_id, flow):
    agent, _, session = flow
    made = await services.approval_policies.create(workspace_id, policy(comment="small is fine"))
    asked = await ask(services, workspace_id, agent, session)
    assert (asked["status"], asked["decision"], asked["response"], asked["changes"]) == (
        "resolved", "approve", {"symbol": "AAPL", "quantity": 5}, [])
    assert (asked["resolved_by"], asked["resolved_by_name"], asked["comment"]) == (
        f"policy:{made['id']}", "small trades", "small is fine")
    assert (await services.sessions.get(workspace_id, session["id"]))["status"] == "processing_input"
    timeline = (await services.activities.list(workspace_id, {"session_id": session["id"]}, limit=10, after=None,
                                               order="asc")).items
    resolved = timeline[-1]
    assert resolved["type"] == "input_request_resolved" and "by policy 'small trades'" in resolved["message"]
    assert resolved["payload"]["resolved_by"] == f"policy:{made['id']}"
    assert await services.store.get("callback_outbox", asked["id"]) is not None  # the callback is due
    (record,) = [r async for r in services.audit_log.records()]
    assert (record["request_id"], record["resolved_by"], record["decision"]) == (asked["id"], f"policy:{made['id']}",
                                                                               "approve")


async def test_what_a_policy_never_decides(services, workspace_id, flow):
    agent, other, session = flow
    await services.approval_policies.create(workspace_id, policy())
    too_big = await ask(services, workspace_id, agent, session, quantity=11)
    hosted_form = await ask(services, workspace_id, agent, session, decisions=None)
    no_approve = await ask(services, workspace_id, agent, session, decisions=("reject", "respond"))
    assert [r["status"] for r in (too_big, hosted_form, no_approve)] == ["pending"] * 3
    elsewhere = await services.workspaces.create("elsewhere")
    their_agent = await services.agents.create(elsewhere["id"], {"name": "a", "description": None,
                                                                 "execution_endpoint": None})
    their_session = await services.sessions.create(elsewhere["id"], {
        "agent_id": their_agent["id"], "status": "running", "state": {}, "metadata": {}, "error_message": None})
    theirs = await services.input_requests.create(elsewhere["id"], request(
        their_agent, their_session, schema=TRADE, defaults=PROPOSAL | {"quantity": 1}, decisions=["approve"]))
    assert theirs["status"] == "pending"  # a policy of another workspace


@pytest.mark.parametrize("fields", [
    {"enabled": False},
    {"expires_at": "EXPIRED"},
    {"agent_id": "OTHER"},
    {"request_key": "deploy-*"},
    {"decision": "reject", "when": {"properties": {"title": {"const": "something else"}}}},
])
async def test_a_policy_that_does_not_apply_leaves_the_request_pending(services, workspace_id, flow, fields):
    agent, other, session = flow
    fields = {k: (other["id"] if v == "OTHER" else v) for k, v in fields.items()}
    expired = fields.get("expires_at") == "EXPIRED"
    if expired:
        fields["expires_at"] = ids.format_time(ids.parse_time(ids.now_iso()).timestamp() + 0.2)
    await services.approval_policies.create(workspace_id, policy(**fields))
    if expired:
        await asyncio.sleep(0.3)
    assert (await ask(services, workspace_id, agent, session))["status"] == "pending"


async def test_the_highest_priority_decides_and_globs_and_facts_narrow(services, workspace_id, flow):
    agent, _, session = flow
    await services.approval_policies.create(workspace_id, policy(name="low", priority=1))
    refuse = await services.approval_policies.create(workspace_id, policy(
        name="no AAPL on k*", priority=5, decision="reject", request_key="k*", comment="not this one",
        when={"properties": {"defaults": {"properties": {"symbol": {"const": "AAPL"}}}, "agent_name": {"const": "a"}}}))
    asked = await ask(services, workspace_id, agent, session)
    assert (asked["decision"], asked["resolved_by"], asked["comment"]) == ("reject", f"policy:{refuse['id']}",
                                                                          "not this one")
    await services.approval_policies.update(workspace_id, refuse["id"], {"enabled": False})
    assert (await ask(services, workspace_id, agent, session))["resolved_by_name"] == "low"


async def test_a_policy_is_checked_when_it_is_written(services, workspace_id, flow):
    agent, _, _ = flow
    with pytest.raises(Invalid, match="when: not a valid JSON Schema"):
        await services.approval_policies.create(workspace_id, policy(when={"type": 12}))
    with pytest.raises(Invalid, match="when: \\$ref"):
        await services.approval_policies.create(workspace_id, policy(when={"$ref": "https://example.com/s"}))
    with pytest.raises(Invalid, match="expires_at must be in the future"):
        await services.approval_policies.create(workspace_id, policy(expires_at="2020-01-01T00:00:00.000Z"))
    made = await services.approval_policies.create(workspace_id, policy(agent_id=agent["id"]))
    with pytest.raises(Invalid, match="not a valid JSON Schema"):
        await services.approval_policies.update(workspace_id, made["id"], {"when": {"minimum": "x"}})


async def test_approve_and_remember_approves_the_same_again(services, workspace_id, flow):
    agent, other, session = flow
    first = await ask(services, workspace_id, agent, session, quantity=500)
    edited = {"symbol": "AAPL", "quantity": 400}
    with pytest.raises(Invalid, match="only an approval is remembered"):
        await services.input_requests.resolve(workspace_id, first["id"], None, decision="reject",
                                              remember_seconds=3600)
    await services.input_requests.resolve(workspace_id, first["id"], edited, decision="approve",
                                          resolved_by="user:ada", resolved_by_name="Ada", remember_seconds=3600)
    (remembered,) = (await services.approval_policies.list(workspace_id, limit=10, after=None, order="desc")).items
    assert (remembered["agent_id"], remembered["request_key"], remembered["remembered_from"]) == (
        agent["id"], "k", first["id"])
    left = ids.parse_time(remembered["expires_at"]).timestamp() - ids.parse_time(ids.now_iso()).timestamp()
    assert 3590 < left <= 3600
    again = await ask(services, workspace_id, agent, session, quantity=400)
    assert again["resolved_by"] == f"policy:{remembered['id']}" and again["response"] == edited
    assert (await ask(services, workspace_id, agent, session, quantity=500))["status"] == "pending"
    assert (await ask(services, workspace_id, agent, session, quantity=400, key="k2"))["status"] == "pending"
    other_session = await services.sessions.create(workspace_id, {
        "agent_id": other["id"], "status": "running", "state": {}, "metadata": {}, "error_message": None})
    assert (await ask(services, workspace_id, other, other_session, quantity=400))["status"] == "pending"
    await services.agents.delete(workspace_id, agent["id"])  # its policies go with it; its decisions stay
    assert (await services.approval_policies.list(workspace_id, limit=10, after=None, order="desc")).items == []
    assert (await services.audit_log.verify())["records"] == 2  # the person's approval, the policy's


async def test_the_chain_verifies_and_names_an_edited_record(services, workspace_id, flow):
    agent, _, session = flow
    for n in range(12):
        asked = await ask(services, workspace_id, agent, session, quantity=100 + n)
        await services.input_requests.resolve(workspace_id, asked["id"], asked["defaults"], decision="approve",
                                              resolved_by="user:ada", resolved_by_name="Ada")
    expiring = await ask(services, workspace_id, agent, session, quantity=999,
                         expires_at=ids.format_time(ids.parse_time(ids.now_iso()).timestamp() + 60))
    await services.input_requests.expire(workspace_id, expiring["id"])
    assert await services.audit_log.verify() == {"ok": True, "records": 13, "first_bad": None}
    records = [r async for r in services.audit_log.records()]
    assert [r["seq"] for r in records] == list(range(1, 14)) and records[0]["prev_hash"] == GENESIS
    assert records[-1]["status"] == "expired" and records[-1]["resolved_by"] == "system"
    assert all(r["hash"] == chain_hash(r["prev_hash"], r) for r in records)

    # Records are history: deleting the session leaves them.
    await services.sessions.delete(workspace_id, session["id"])
    assert (await services.audit_log.verify())["ok"]

    await services.store.update(AUDIT, records[4]["id"], {"decision": "reject"})  # edited behind the API
    assert await services.audit_log.verify() == {"ok": False, "records": 5, "first_bad": records[4]["id"]}
    await services.store.update(AUDIT, records[4]["id"], {"decision": "approve"})
    await services.store.batch([Delete(AUDIT, records[-1]["id"])])  # the newest record removed
    assert await services.audit_log.verify() == {"ok": False, "records": 12, "first_bad": records[-1]["id"]}


async def test_concurrent_decisions_make_one_chain(services, workspace_id, flow):
    agent, _, session = flow
    asked = [await ask(services, workspace_id, agent, session, quantity=100 + n) for n in range(20)]
    await asyncio.gather(*(services.input_requests.resolve(workspace_id, a["id"], a["defaults"], decision="approve")
                           for a in asked))
    assert await services.audit_log.verify() == {"ok": True, "records": 20, "first_bad": None}


async def test_a_refused_resolve_writes_no_record(services, workspace_id, flow):
    agent, _, session = flow
    asked = await ask(services, workspace_id, agent, session, quantity=100)
    await services.input_requests.resolve(workspace_id, asked["id"], asked["defaults"], decision="approve")
    with pytest.raises(Exception, match="already resolved"):
        await services.input_requests.resolve(workspace_id, asked["id"], asked["defaults"], decision="approve")
    assert (await services.audit_log.verify())["records"] == 1
    # an Update expected to fail inside the batch leaves the head where it was
    head = await services.store.get("audit_chain", "head")
    with pytest.raises(Exception):
        await services.audit_log.commit([Update("input_requests", asked["id"], {}, expect={"status": "pending"})],
                                        [{"at": ids.now_iso()}])
    assert await services.store.get("audit_chain", "head") == head
