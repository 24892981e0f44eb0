"""Agents, configurations, sessions, input requests and activities, through HTTP."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

TRADE_SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures" / "trade-approval-schema.json").read_text())


@pytest.fixture
def post(api):
    async def call(path: str, body: dict, status: int = 201, **kwargs) -> dict:
        reply = await api("POST", path, body, **kwargs)
        assert reply.status == status, (path, reply.body)
        return reply.body

    return call


@pytest.fixture
def flow(post):
    """``await flow()`` -> (agent, session, input request on the trade schema)."""

    async def make(schema: dict = TRADE_SCHEMA, **request_fields) -> tuple[dict, dict, dict]:
        agent = await post("/v1/agents", {"name": "trader"})
        session = await post("/v1/agent-sessions", {"agent_id": agent["id"]})
        request = await post("/v1/agent-session-input-requests", {
            "session_id": session["id"], "agent_id": agent["id"], "key": "approve_trades",
            "title": "Approve proposed trades", "message": "Please review", "schema": schema, **request_fields})
        return agent, session, request

    return make


async def timeline(api, session_id: str) -> list[tuple[str, str]]:
    reply = await api("GET", "/v1/agent-session-activities", params={"session_id": session_id, "$order": "asc"})
    return [(a["type"], a["source"]) for a in reply.body["items"]]


async def test_agent_with_default_configuration_and_derived_status(api, post):
    agent = await post("/v1/agents", {"name": "trader", "execution_endpoint": {"url": "https://agent.example/run"}})
    assert agent["status"] is None
    assert agent["execution_endpoint"] == {"url": "https://agent.example/run", "method": "POST", "headers": {},
                                           "body": {}}
    config = (await api("GET", f"/v1/agent-configurations/agent/{agent['id']}")).body
    assert config["id"] == agent["config_id"]
    assert (config["variant"], config["version"], config["variant_version"]) == ("default", 1, 1)
    assert config["schema"] == {} and config["value"] == {}
    await post("/v1/agent-sessions", {"agent_id": agent["id"]})
    assert (await api("GET", f"/v1/agents/{agent['id']}")).body["status"] == "running"
    newest = await post("/v1/agent-sessions", {"agent_id": agent["id"], "status": "failed"})
    assert (await api("GET", f"/v1/agents/{agent['id']}")).body["status"] == "failed"
    await api("PATCH", f"/v1/agent-sessions/{newest['id']}", {"status": "completed"})
    listed = await api("GET", "/v1/agents")
    assert listed.body["items"][0]["status"] == "completed"


async def test_execution_endpoint_validation(api):
    """Every endpoint rule: tests/test_bodies.py; here, that it reaches the caller as a 400."""
    reply = await api("POST", "/v1/agents", {"name": "a", "execution_endpoint": {"url": "ftp://x.example"}})
    assert reply.status == 400 and "execution_endpoint.url" in reply.error, reply.body


async def test_configurations_are_immutable_versions(api, post):
    agent = await post("/v1/agents", {"name": "a"})
    schema = {"type": "object", "properties": {"risk": {"type": "number", "maximum": 1}}, "required": ["risk"]}
    v2 = await post("/v1/agent-configurations", {"agent_id": agent["id"], "schema": schema, "value": {"risk": 0.5}})
    assert (v2["version"], v2["variant_version"], v2["schema_version"]) == (2, 2, 2)
    v3 = await post("/v1/agent-configurations", {"agent_id": agent["id"], "value": {"risk": 0.2}})
    assert v3["schema"] == schema and (v3["version"], v3["schema_version"]) == (3, 2)  # schema inherited
    bad = await api("POST", "/v1/agent-configurations", {"agent_id": agent["id"], "value": {"risk": 3}})
    assert bad.status == 400 and "risk: must be at most 1" in bad.error
    bad = await api("POST", "/v1/agent-configurations", {"agent_id": agent["id"], "value": {}})
    assert bad.status == 400 and "risk: is required" in bad.error
    bad = await api("POST", "/v1/agent-configurations", {"agent_id": agent["id"], "schema": {"type": "nope"}})
    assert bad.status == 400 and "not a valid JSON Schema" in bad.error
    assert (await api("GET", f"/v1/agents/{agent['id']}")).body["config_id"] == v3["id"]
    # Another variant gets its own counter and does not become active.
    canary = await post("/v1/agent-configurations", {"agent_id": agent["id"], "variant": "canary",
                                                      "value": {"x": 1}})
    assert (canary["version"], canary["variant_version"], canary["schema"]) == (4, 1, {})
    assert (await api("GET", f"/v1/agents/{agent['id']}")).body["config_id"] == v3["id"]
    variants = (await api("GET", "/v1/agent-configurations/variants", params={"agent_id": agent["id"]})).body
    assert {c["variant"]: c["id"] for c in variants["items"]} == {"default": v3["id"], "canary": canary["id"]}
    assert variants["trail"] is None
    # Rollback: activate an older version by PATCHing the agent.
    rolled = await api("PATCH", f"/v1/agents/{agent['id']}", {"config_id": v2["id"]})
    assert rolled.status == 200 and rolled.body["config_id"] == v2["id"]
    active = await api("GET", f"/v1/agent-configurations/agent/{agent['id']}")
    assert active.body["id"] == v2["id"]
    other = await post("/v1/agents", {"name": "b"})
    reply = await api("PATCH", f"/v1/agents/{agent['id']}", {"config_id": other["config_id"]})
    assert reply.status == 400 and "config_id" in reply.error
    listed = await api("GET", "/v1/agent-configurations", params={"agent_id": agent["id"], "variant": "default"})
    assert [c["version"] for c in listed.body["items"]] == [3, 2, 1]
    for method in ("PATCH", "DELETE"):
        reply = await api(method, f"/v1/agent-configurations/{v2['id']}", {"value": {}} if method == "PATCH" else None)
        assert reply.status == 405 and reply.headers["Allow"] == "GET"
    assert (await api("GET", "/v1/agent-configurations/variants")).status == 400


async def test_concurrent_configuration_versions_are_distinct(api, post):
    agent = await post("/v1/agents", {"name": "a"})
    replies = await asyncio.gather(*(api("POST", "/v1/agent-configurations", {"agent_id": agent["id"],
                                                                               "value": {"n": i}})
                                     for i in range(8)))
    versions = sorted(r.body["version"] for r in replies if r.status == 201)
    assert len(versions) == len(set(versions))
    assert all(r.status in (201, 409) for r in replies)


async def test_session_rules_and_timeline(api, post):
    agent = await post("/v1/agents", {"name": "a"})
    session = await post("/v1/agent-sessions", {"agent_id": agent["id"], "state": {"step": 1},
                                                "metadata": {"run": "x"}})
    assert session["status"] == "running" and session["error_message"] is None
    patched = await api("PATCH", f"/v1/agent-sessions/{session['id']}", {"state": {"other": True}})
    assert patched.body["state"] == {"other": True} and patched.body["metadata"] == {"run": "x"}
    bad = await api("PATCH", f"/v1/agent-sessions/{session['id']}", {"status": "paused"})
    assert bad.status == 400 and "status" in bad.error
    assert (await api("POST", "/v1/agent-sessions", {"agent_id": "missing"})).status == 404
    done = await api("PATCH", f"/v1/agent-sessions/{session['id']}", {"status": "completed"})
    assert done.body["status"] == "completed"
    again = await api("PATCH", f"/v1/agent-sessions/{session['id']}", {"status": "completed"})
    assert again.status == 200
    assert await timeline(api, session["id"]) == [("session_started", "system"), ("session_ended", "system")]
    listed = await api("GET", "/v1/agent-sessions", params={"agent_id": agent["id"], "status": "completed"})
    assert [s["id"] for s in listed.body["items"]] == [session["id"]]
    assert (await api("GET", "/v1/agent-sessions", params={"status": "paused"})).status == 400


async def test_the_hosted_apis_documented_flow(api, flow, make_key):
    """Create session, ask, poll ?session_id=&status=resolved, read response, complete."""
    key = await make_key()
    agent, session, request = await flow()
    assert request["status"] == "pending" and request["response"] is None and request["resolved_at"] is None
    assert (await api("GET", f"/v1/agent-sessions/{session['id']}", key=key)).body["status"] == "waiting_for_input"
    poll = {"session_id": session["id"], "status": "resolved"}
    assert (await api("GET", "/v1/agent-session-input-requests", params=poll, key=key)).body["items"] == []
    answer = {"trade_0": {"approved": True, "symbol": "AAPL"}, "trade_1": {"approved": False},
              "notes": "only the Apple trade"}
    resolved = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve", {"response": answer})
    assert resolved.status == 200
    assert resolved.body["status"] == "resolved" and resolved.body["response"] == answer
    assert resolved.body["resolved_at"] >= request["created_at"]
    found = (await api("GET", "/v1/agent-session-input-requests", params=poll, key=key)).body["items"]
    assert [r["response"] for r in found] == [answer]
    assert (await api("GET", f"/v1/agent-sessions/{session['id']}", key=key)).body["status"] == "processing_input"
    finished = await api("PATCH", f"/v1/agent-sessions/{session['id']}", {"status": "completed",
                                                                           "state": {"done": True}}, key=key)
    assert finished.status == 200
    assert await timeline(api, session["id"]) == [
        ("session_started", "system"), ("input_request_created", "system"),
        ("input_request_resolved", "system"), ("session_ended", "system")]
    activities = (await api("GET", "/v1/agent-session-activities", params={"session_id": session["id"]})).body
    related = {a["type"]: a["related_entity_id"] for a in activities["items"]}
    assert related["input_request_created"] == related["input_request_resolved"] == request["id"]


async def test_resolve_validation_and_conflicts(api, flow):
    _, session, request = await flow()
    path = f"/v1/agent-session-input-requests/{request['id']}/resolve"
    invalid = await api("POST", path, {"response": {"trade_0": {"approved": "yes", "symbol": "MSFT"}}})
    assert invalid.status == 400
    assert 'trade_0/approved: must be true or false' in invalid.error
    assert 'trade_0/symbol: must be "AAPL"' in invalid.error
    assert 'trade_1: is required' in invalid.error
    # each violation also on its own, named as the form labels the field, for a surface to show beside it
    assert {"path": "/trade_1", "field": "SELL 3 BTC", "message": "is required"} in invalid.body["violations"]
    unchanged = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert unchanged["status"] == "pending" and unchanged["response"] is None
    assert (await api("POST", path, {"response": ["not", "an", "object"]})).status == 400
    assert (await api("POST", path, {})).status == 400
    ok = {"trade_0": {"approved": True}, "trade_1": {"approved": True}}
    assert (await api("POST", path, {"response": ok})).status == 200
    again = await api("POST", path, {"response": ok})
    assert again.status == 409 and "already resolved" in again.error


async def test_two_concurrent_resolves_one_wins(api, flow):
    _, _, request = await flow()
    path = f"/v1/agent-session-input-requests/{request['id']}/resolve"
    ok = {"trade_0": {"approved": True}, "trade_1": {"approved": False}}
    replies = await asyncio.gather(api("POST", path, {"response": ok}), api("POST", path, {"response": ok}))
    assert sorted(r.status for r in replies) == [200, 409]


async def test_input_request_rules(api, post, flow):
    agent, session, _ = await flow()
    other = await post("/v1/agents", {"name": "other"})
    base = {"session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "t", "message": "m",
            "schema": {"type": "object"}}
    # every rule: tests/services/test_sessions.py and tests/test_bodies.py; here, each kind of refusal
    for body, status, expected in (({**base, "agent_id": other["id"]}, 400, "does not own the session"),
                                   ({**base, "title": ""}, 400, "title:"),
                                   ({**base, "session_id": "missing"}, 404, "not found")):
        reply = await api("POST", "/v1/agent-session-input-requests", body)
        assert reply.status == status and expected in reply.error, (body, reply.body)
    assert (await api("GET", "/v1/agent-session-input-requests", params={"status": "open"})).status == 400


@pytest.fixture
def schema_host():
    """A threaded HTTP server serving a JSON Schema, counting fetches (it answers even if the loop is blocked)."""
    import http.server
    import threading

    fetched: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            fetched.append(self.path)
            body = b'{"type": "string"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/schema.json", fetched
    server.shutdown()
    server.server_close()


async def test_a_schema_never_makes_the_server_fetch_a_url(api, post, flow, opensink_app, schema_host):
    """Regression: jsonschema fetched a $ref URL from the server (blocking it, past the callback URL policy)."""
    url, fetched = schema_host
    agent, session, request = await flow()
    remote = {"type": "object", "properties": {"a": {"$ref": url}}}
    for path, body in (
        ("/v1/agent-configurations", {"agent_id": agent["id"], "schema": remote, "value": {"a": 5}}),
        ("/v1/agent-session-input-requests", {"session_id": session["id"], "agent_id": agent["id"], "key": "k",
                                              "title": "t", "message": "m", "schema": remote}),
    ):
        reply = await api("POST", path, body)
        assert reply.status == 400 and "$ref" in reply.error and "never to a URL" in reply.error, reply.body
    # A schema stored before this check existed is still never followed to the URL.
    await opensink_app.store.update("input_requests", request["id"], {"schema": remote})
    reply = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve", {"response": {"a": 5}})
    assert reply.status == 400 and "$ref" in reply.error
    # Nor is a meta-schema named in $schema (jsonschema-rs would fetch one it does not know).
    reply = await api("POST", "/v1/agent-configurations", {"agent_id": agent["id"], "value": {},
                                                           "schema": {"$schema": url, "type": "object"}})
    assert reply.status == 400 and "Unknown meta-schema" in reply.error, reply.body
    assert fetched == []


async def test_schemas_that_would_exhaust_the_stack_are_refused(api, post, flow):
    """Both routes that take a schema refuse one nested as deep as a request body may be (every case:
    tests/test_schemas.py), and take a recursive one."""
    agent, session, _ = await flow()
    deep = {"type": "object"}
    for _ in range(95):  # 190 levels: as deep as a request body may nest
        deep = {"type": "object", "properties": {"a": deep}}
    for path, body in (
        ("/v1/agent-configurations", {"agent_id": agent["id"], "schema": deep, "value": {}}),
        ("/v1/agent-session-input-requests", {"session_id": session["id"], "agent_id": agent["id"], "key": "k",
                                              "title": "t", "message": "m", "schema": deep}),
    ):
        reply = await api("POST", path, body)
        assert reply.status == 400 and "nests deeper than 64 levels" in reply.error, (path, reply.body)
    # A recursive schema (a tree) is fine, even with a value nested as deep as a request body allows.
    tree = {"$defs": {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}},
            "$ref": "#/$defs/node"}
    value: dict = {}
    for _ in range(190):
        value = {"child": value}
    reply = await api("POST", "/v1/agent-configurations", {"agent_id": agent["id"], "schema": tree, "value": value})
    assert reply.status in (201, 400), reply.body


async def test_expired_request_fails_the_session(api, flow, jp_serverapp):
    await jp_serverapp._post_start()  # the start hook starts the expiry timers
    soon = (datetime.now(timezone.utc) + timedelta(seconds=0.6)).isoformat()
    _, session, request = await flow(expires_at=soon)
    assert request["expires_at"].endswith("Z")
    await asyncio.sleep(1.2)
    expired = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert expired["status"] == "expired"
    failed = (await api("GET", f"/v1/agent-sessions/{session['id']}")).body
    assert failed["status"] == "failed" and "expired" in failed["error_message"]
    reply = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
                      {"response": {"trade_0": {"approved": True}, "trade_1": {"approved": True}}})
    assert reply.status == 409 and "expired" in reply.error
    assert ("session_ended", "system") in await timeline(api, session["id"])


async def test_activities_written_by_agents_and_users(api, flow, make_key):
    agent, session, _ = await flow()
    key = await make_key(scopes=["agent_session_activities:all"])
    by_agent = await api("POST", "/v1/agent-session-activities", {
        "session_id": session["id"], "type": "message", "message": "thinking",
        "links": [{"href": "https://example.com", "text": "source"}], "payload": {"tokens": 5}}, key=key)
    assert by_agent.status == 201 and by_agent.body["source"] == "agent" and by_agent.body["agent_id"] == agent["id"]
    by_user = await api("POST", "/v1/agent-session-activities", {"session_id": session["id"], "type": "message",
                                                                  "message": "note from me"})
    assert by_user.body["source"] == "user"
    # the other rules: tests/services/test_sessions.py and tests/test_bodies.py
    reply = await api("POST", "/v1/agent-session-activities",
                      {"session_id": session["id"], "type": "message", "agent_id": "someone"})
    assert reply.status == 400 and reply.error == "agent_id: this session belongs to another agent", reply.body
    mine = await api("GET", "/v1/agent-session-activities", params={"session_id": session["id"], "source": "agent"})
    assert [a["id"] for a in mine.body["items"]] == [by_agent.body["id"]]
    got = await api("GET", f"/v1/agent-session-activities/{by_agent.body['id']}", key=key)
    assert got.body == by_agent.body


async def test_deleting_an_agent_removes_everything_it_owns(api, flow, opensink_app):
    agent, session, request = await flow()
    keep_agent, keep_session, _ = await flow()
    deleted = await api("DELETE", f"/v1/agents/{agent['id']}")
    assert deleted.status == 200 and deleted.body["id"] == agent["id"]
    store = opensink_app.store
    for table in ("agent_configurations", "agent_sessions", "input_requests", "activities"):
        assert await store.count(table, {"agent_id": agent["id"]}) == 0, table
        assert await store.count(table, {"agent_id": keep_agent["id"]}) > 0, table
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).status == 404
    gone = await api("DELETE", f"/v1/agent-sessions/{keep_session['id']}")
    assert gone.status == 200
    assert await store.count("activities", {"session_id": keep_session["id"]}) == 0


async def test_every_change_is_announced(api, flow, opensink_app):
    seen = []
    unsubscribe = opensink_app.events.subscribe(lambda e: seen.append(e.type))
    agent, session, request = await flow()
    await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
              {"response": {"trade_0": {"approved": True}, "trade_1": {"approved": True}}})
    await api("PATCH", f"/v1/agents/{agent['id']}", {"name": "renamed"})
    await api("DELETE", f"/v1/agents/{agent['id']}")
    unsubscribe()
    for expected in ("agent.created", "configuration.created", "session.created", "input_request.created",
                     "session.updated", "activity.created", "input_request.resolved", "agent.updated",
                     "agent.deleted"):
        assert expected in seen, expected
    assert seen.index("input_request.resolved") > seen.index("input_request.created")


async def test_scopes_and_workspaces(api, flow, make_key):
    agent, session, request = await flow()
    reader = await make_key(scopes=["agents:read", "agent_sessions:read"])
    assert (await api("GET", f"/v1/agents/{agent['id']}", key=reader)).status == 200
    reply = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
                      {"response": {}}, key=reader)
    assert reply.status == 403 and "agent_session_input_requests:write" in reply.error
    team = (await api("POST", "/v1/workspaces", {"name": "Team"})).body
    outsider = await make_key(workspace_id=team["id"])
    for path in (f"/v1/agents/{agent['id']}", f"/v1/agent-sessions/{session['id']}",
                 f"/v1/agent-session-input-requests/{request['id']}",
                 f"/v1/agent-configurations/agent/{agent['id']}"):
        assert (await api("GET", path, key=outsider)).status == 404, path
