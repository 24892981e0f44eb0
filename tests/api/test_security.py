"""Walk every route of the table with every kind of wrong credential."""

from __future__ import annotations

from jupyter_opensink.api import ROUTES
from jupyter_opensink.api.routing import ADMIN, ANY, PUBLIC

from .walk import url

CHECKED = [r for r in ROUTES if r.scope != PUBLIC and not r.stream]
SAMPLE = {"name": "x", "title": "t"}


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
