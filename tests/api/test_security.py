"""Walk every route of the table with every kind of wrong credential."""

from __future__ import annotations

import pytest

from jupyter_opensink.api import ROUTES
from jupyter_opensink.api.routing import ADMIN, ANY, PUBLIC

CHECKED = [r for r in ROUTES if r.scope != PUBLIC and not r.stream]
SAMPLE = {"name": "x", "title": "t"}


def url(route, ids: dict[str, str]) -> str:
    path = route.path
    for name in ("id", "sink_id", "agent_id"):
        path = path.replace("{" + name + "}", ids.get(route_kind(route, name), "unknown"))
    return "/v1" + path


def route_kind(route, name: str) -> str:
    """Which object a path parameter names, from the route's first path segment."""
    if name == "sink_id":
        return "sinks"
    if name == "agent_id":
        return "agents"
    return route.path.strip("/").split("/")[0]


@pytest.fixture
def objects(api):
    """One object of each kind in the default workspace: ids by first path segment."""

    async def make() -> dict[str, str]:
        sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
        item = (await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "t"})).body
        agent = (await api("POST", "/v1/agents", {"name": "a"})).body
        session = (await api("POST", "/v1/agent-sessions", {"agent_id": agent["id"]})).body
        request = (await api("POST", "/v1/agent-session-input-requests", {
            "session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "t", "message": "m",
            "schema": {"type": "object"}})).body
        activity = (await api("POST", "/v1/agent-session-activities", {"session_id": session["id"],
                                                                        "type": "message"})).body
        job = (await api("POST", "/v1/background-jobs", {"name": "j", "interval_minutes": 60,
                                                         "url": "http://127.0.0.1:9/x", "enabled": False})).body
        run = (await api("POST", f"/v1/background-jobs/{job['id']}/trigger")).body
        workspace = [w for w in (await api("GET", "/v1/workspaces")).body["items"] if w["is_default"]][0]
        key = (await api("POST", "/v1/api-keys", {"name": "k"})).body
        return {"sinks": sink["id"], "sink-items": item["id"], "agents": agent["id"],
                "agent-configurations": agent["config_id"], "agent-sessions": session["id"],
                "agent-session-input-requests": request["id"], "agent-session-activities": activity["id"],
                "background-jobs": job["id"], "background-job-runs": run["id"], "workspaces": workspace["id"],
                "api-keys": key["id"], "execution-deliveries": "none-yet"}

    return make


async def test_every_route_refuses_missing_and_bad_credentials(api, make_key, objects):
    ids = await objects()
    revoked = await make_key()
    key_id = [k for k in (await api("GET", "/v1/api-keys")).body["items"] if k["name"] == "test key"][0]["id"]
    await api("DELETE", f"/v1/api-keys/{key_id}")
    checked = 0
    for route in CHECKED:
        body = SAMPLE if route.method in ("POST", "PATCH", "PUT") else None
        for auth in ({"auth": None}, {"key": "osk_not-a-key"}, {"key": revoked}):
            reply = await api(route.method, url(route, ids), body, **auth)
            assert reply.status == 401, (route.method, route.path, auth, reply.status, reply.body)
            checked += 1
    assert checked == 3 * len(CHECKED)


async def test_every_scoped_route_needs_its_scope(api, make_key, objects):
    ids = await objects()
    unrelated = await make_key(scopes=["webhooks:all"])  # valid, but for nothing on these routes
    for route in CHECKED:
        body = SAMPLE if route.method in ("POST", "PATCH", "PUT") else None
        reply = await api(route.method, url(route, ids), body, key=unrelated)
        if route.scope == ANY:
            assert reply.status == 200, (route.method, route.path, reply.body)
        else:
            assert reply.status == 403, (route.method, route.path, reply.status, reply.body)
            expected = route.scope if route.scope != ADMIN else "only the Jupyter user"
            assert expected in reply.error


async def test_another_workspaces_objects_are_404(api, make_key, objects):
    ids = await objects()
    team = (await api("POST", "/v1/workspaces", {"name": "other"})).body
    outsider = await make_key(workspace_id=team["id"])  # all scopes, other workspace
    walked = 0
    for route in CHECKED:
        if "{" not in route.path or route.scope == ADMIN:
            continue
        # A body valid for the route, so only ownership can refuse it.
        body = {"PATCH": {}, "POST": {"title": "t"}}.get(route.method)
        if route.path.endswith("/resolve"):
            body = {"response": {}}
        elif route.path.endswith("/trigger"):
            body = None
        reply = await api(route.method, url(route, ids), body, key=outsider)
        assert reply.status == 404, (route.method, route.path, reply.status, reply.body)
        walked += 1
    assert walked >= 15
