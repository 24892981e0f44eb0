"""Approval policies and the audit log over HTTP: the Jupyter user's alone, a policy's answer reaching the agent,
"approve and remember", exports that round-trip and verify without the server (the rules:
tests/services/test_policies.py)."""

from __future__ import annotations

import csv
import hashlib
import io
import json

from jupyter_opensink.surfaces import ROUTES

from .test_callbacks import ask  # noqa: F401 (a fixture)
from .test_decisions import PROPOSAL, propose

POLICY_ROUTES = [r for r in ROUTES if r.path.startswith(("/approval-policies", "/audit-log"))]
JSON_COLUMNS = ("defaults", "response", "changes")


def recomputed(records: list[dict]) -> bool:
    """The chain checked as an auditor would, with the standard library alone."""
    prev = "0" * 64
    for record in records:
        body = {k: v for k, v in record.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if record["prev_hash"] != prev or hashlib.sha256(prev.encode() + canonical).hexdigest() != record["hash"]:
            return False
        prev = record["hash"]
    return True


def from_csv(text: str) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text)))
    records = []
    for row in rows:
        record: dict = {}
        for column, cell in row.items():
            if cell == "":
                record[column] = None
            elif column in JSON_COLUMNS:
                record[column] = json.loads(cell)
            elif column == "seq":
                record[column] = int(cell)
            else:
                record[column] = cell
        records.append(record)
    return records


async def test_every_policy_and_audit_route_refuses_every_key(api, make_key, ask):
    key = await make_key(scopes=["all:all"])
    agent, _, _ = await ask(None)
    made = (await api("POST", "/v1/approval-policies", {"name": "p", "decision": "approve", "enabled": False})).body
    assert len(POLICY_ROUTES) == 7
    for route in POLICY_ROUTES:
        path = "/v1" + route.path.replace("{id}", made["id"])
        body = {"name": "mine", "decision": "approve"} if route.body is not None else None
        reply = await api(route.method, path, body, key=key)
        assert reply.status == 403, (route.method, route.path, reply.body)
        assert "only the Jupyter user" in reply.error
    # nor through a resolve: "approve and remember" creates a policy
    request = (await propose(api, agent, defaults=PROPOSAL, decisions=["approve"])).body
    reply = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
                      {"decision": "approve", "response": PROPOSAL, "remember": {"seconds": 60}}, key=key)
    assert reply.status == 403 and "remember" in reply.error
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body["status"] == "pending"
    assert (await api("GET", "/v1/approval-policies")).body["items"] == [made]


async def test_policy_crud_and_invalid_schemas(api, ask):
    agent, _, _ = await ask(None)
    bad = await api("POST", "/v1/approval-policies", {"name": "p", "decision": "approve", "when": {"type": 12}})
    assert bad.status == 400 and bad.error.startswith("when: not a valid JSON Schema")
    assert (await api("POST", "/v1/approval-policies", {"name": "p", "decision": "respond"})).status == 400
    assert (await api("POST", "/v1/approval-policies", {"name": "p", "decision": "approve",
                                                        "agent_id": "unknown"})).status == 404
    made = await api("POST", "/v1/approval-policies", {
        "name": "small", "decision": "approve", "agent_id": agent["id"], "request_key": "trade*", "priority": 2,
        "when": {"properties": {"defaults": {"properties": {"quantity": {"maximum": 10}}}}}})
    assert made.status == 201 and (made.body["enabled"], made.body["expires_at"], made.body["comment"]) == (
        True, None, None)
    path = f"/v1/approval-policies/{made.body['id']}"
    changed = await api("PATCH", path, {"enabled": False, "expires_at": "2099-01-01T00:00:00Z"})
    assert changed.status == 200 and (changed.body["enabled"], changed.body["expires_at"]) == (
        False, "2099-01-01T00:00:00.000Z")
    assert (await api("PATCH", path, {"when": {"minimum": "x"}})).status == 400
    listed = await api("GET", "/v1/approval-policies", params={"agent_id": agent["id"]})
    assert [p["id"] for p in listed.body["items"]] == [made.body["id"]]
    other = (await api("POST", "/v1/workspaces", {"name": "other"})).body
    assert (await api("GET", path, headers={"X-OpenSink-Workspace": other["id"]})).status == 404
    assert (await api("DELETE", path)).status == 200 and (await api("GET", path)).status == 404


async def test_a_policy_approves_and_the_callback_arrives(api, ask, receiver):
    agent, _, _ = await ask({"url": receiver.url("/trader")})
    policy = (await api("POST", "/v1/approval-policies", {
        "name": "up to 100", "decision": "approve", "comment": "standing order",
        "when": {"properties": {"defaults": {"properties": {"quantity": {"maximum": 100}}}}}})).body
    created = await propose(api, agent, defaults=PROPOSAL, decisions=["approve", "reject"])
    assert created.status == 201 and created.body["status"] == "resolved"
    assert (created.body["resolved_by"], created.body["resolved_by_name"]) == (f"policy:{policy['id']}",
                                                                             "up to 100")
    (call,) = await receiver.wait_for(1)
    assert call.json["request_id"] == created.body["id"]
    assert call.json["answer"] == {"decision": "approve", "comment": "standing order", "response": PROPOSAL,
                                   "changes": [], "resolved_by_name": "up to 100"}
    hosted = await propose(api, agent, defaults=PROPOSAL)  # the hosted API's form: always a person's
    assert hosted.body["status"] == "pending"


async def test_approve_and_remember_then_the_same_is_approved_again(api, ask):
    agent, _, _ = await ask(None)
    first = (await propose(api, agent, defaults=PROPOSAL, decisions=["approve", "reject"])).body
    path = f"/v1/agent-session-input-requests/{first['id']}/resolve"
    assert (await api("POST", path, {"decision": "approve", "response": PROPOSAL,
                                     "remember": {"seconds": 0}})).status == 400
    done = await api("POST", path, {"decision": "approve", "response": PROPOSAL, "remember": {"seconds": 86400}})
    assert done.status == 200, done.body
    (policy,) = (await api("GET", "/v1/approval-policies")).body["items"]
    assert (policy["agent_id"], policy["request_key"], policy["remembered_from"], policy["decision"]) == (
        agent["id"], "trade", first["id"], "approve")
    again = (await propose(api, agent, defaults=PROPOSAL, decisions=["approve", "reject"])).body
    assert again["status"] == "resolved" and again["resolved_by"] == f"policy:{policy['id']}"
    different = (await propose(api, agent, defaults={**PROPOSAL, "quantity": 101}, decisions=["approve"])).body
    assert different["status"] == "pending"


async def test_the_audit_log_exports_round_trip_and_verify_offline(api, ask):
    agent, _, _ = await ask(None)
    await api("POST", "/v1/approval-policies", {
        "name": "tiny", "decision": "approve",
        "when": {"properties": {"defaults": {"properties": {"quantity": {"maximum": 1}}}}}})
    answers = [{"decision": "approve", "response": PROPOSAL},
               {"decision": "approve", "response": {**PROPOSAL, "quantity": 7}, "comment": "fewer, «café»"},
               {"decision": "reject", "comment": "no"}]
    for answer in answers:
        request = (await propose(api, agent, defaults=PROPOSAL, decisions=["approve", "reject"])).body
        reply = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve", answer)
        assert reply.status == 200, reply.body
    plain = (await propose(api, agent)).body
    await api("POST", f"/v1/agent-session-input-requests/{plain['id']}/resolve", {"response": PROPOSAL})
    await propose(api, agent, defaults={**PROPOSAL, "quantity": 1}, decisions=["approve"])  # the policy's
    # the agent goes; its decisions stay on record
    assert (await api("DELETE", f"/v1/agents/{agent['id']}")).status == 200

    as_json = await api("GET", "/v1/audit-log")
    assert as_json.status == 200 and as_json.headers["Content-Type"].startswith("application/json")
    records = as_json.body["items"]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5] and recomputed(records)
    assert [r["resolved_by"].split(":")[0] for r in records] == ["user"] * 4 + ["policy"]
    assert records[1]["changes"] == [{"op": "replace", "path": "/quantity", "value": 7}]
    assert records[2]["decision"] == "reject" and records[3]["decision"] is None
    assert records[0]["agent_name"] == "a" and records[0]["title"] == "Buy AAPL?"

    jsonl = await api("GET", "/v1/audit-log", params={"format": "jsonl"})
    assert jsonl.headers["Content-Type"] == "application/x-ndjson"
    assert [json.loads(line) for line in jsonl.body.splitlines()] == records
    as_csv = await api("GET", "/v1/audit-log", params={"format": "csv"})
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    assert from_csv(as_csv.body) == records

    later = await api("GET", "/v1/audit-log", params={"since": records[3]["at"], "format": "jsonl"})
    assert [json.loads(line)["seq"] for line in later.body.splitlines()] == [
        r["seq"] for r in records if r["at"] >= records[3]["at"]]
    before = await api("GET", "/v1/audit-log", params={"until": records[0]["at"]})
    assert before.body["items"] == []
    assert (await api("GET", "/v1/audit-log", params={"since": "yesterday"})).status == 400
    assert (await api("GET", "/v1/audit-log", params={"format": "xml"})).status == 400
    assert (await api("GET", "/v1/audit-log/verify")).body == {"ok": True, "records": 5, "first_bad": None}


async def test_an_edited_record_is_named_by_verify(api, ask, opensink_app):
    agent, _, _ = await ask(None)
    for quantity in (1, 2, 3):
        request = (await propose(api, agent, defaults={**PROPOSAL, "quantity": quantity},
                                 decisions=["approve"])).body
        await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
                  {"decision": "approve", "response": request["defaults"]})
    records = (await api("GET", "/v1/audit-log")).body["items"]
    await opensink_app.store.update("audit_log", records[1]["id"], {"response": {**PROPOSAL, "quantity": 900}})
    assert (await api("GET", "/v1/audit-log/verify")).body == {"ok": False, "records": 2,
                                                               "first_bad": records[1]["id"]}
    assert not recomputed((await api("GET", "/v1/audit-log")).body["items"])

