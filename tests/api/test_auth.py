"""Who may call what: keys, the Jupyter user, and everyone else."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from jupyter_opensink.services.access import Principal, grants, validate_scopes


async def test_no_credential_is_401_with_json_error(api):
    for method, body in (("GET", None), ("POST", {"name": "x"})):
        reply = await api(method, "/v1/workspaces", body, auth=None)
        assert reply.status == 401, (method, reply.body)
        assert "credential" in reply.error
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")


async def test_unknown_key_is_401(api):
    reply = await api("GET", "/v1/workspaces", key="osk_not-a-real-key")
    assert reply.status == 401 and reply.error == "invalid API key"


async def test_key_is_shown_once_and_stored_hashed(api, opensink_app):
    created = await api("POST", "/v1/api-keys", {"name": "agent"})
    assert created.status == 201
    secret = created.body["key"]
    assert secret.startswith("osk_") and len(secret) > 40
    assert created.body["prefix"] == secret[:12]
    assert created.body["scopes"] == ["all:all"]
    listed = await api("GET", "/v1/api-keys")
    assert [k["id"] for k in listed.body["items"]] == [created.body["id"]]
    assert "key" not in listed.body["items"][0] and "key_hash" not in listed.body["items"][0]
    got = await api("GET", f"/v1/api-keys/{created.body['id']}")
    assert "key" not in got.body
    stored = await opensink_app.store.get("api_keys", created.body["id"])
    assert secret not in str(stored)  # only its hash is kept


async def test_revoked_key_is_401(api, make_key):
    key = await make_key()
    listed = await api("GET", "/v1/api-keys")
    key_id = listed.body["items"][0]["id"]
    revoked = await api("DELETE", f"/v1/api-keys/{key_id}")
    assert revoked.status == 200 and revoked.body["id"] == key_id
    reply = await api("GET", "/v1/api-keys", key=key)
    assert reply.status == 401 and reply.error == "invalid API key"
    assert (await api("DELETE", f"/v1/api-keys/{key_id}")).status == 404


async def test_expired_key_is_401(api, make_key):
    expiry = datetime.now(timezone.utc) + timedelta(seconds=3)  # room for a busy machine to create it first
    key = await make_key(expires_at=expiry.isoformat())
    assert (await api("GET", "/v1/workspaces", key=key)).status == 403  # valid, but not the Jupyter user
    await asyncio.sleep(max(0.0, (expiry - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    reply = await api("GET", "/v1/workspaces", key=key)
    assert reply.status == 401 and reply.error == "API key expired"


async def test_key_creation_rules(api):
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    # the body's own rules: tests/test_bodies.py; here, those that need the server, and one body rule
    cases = [
        ({"name": "x", "expires_at": past}, "expires_at"),
        ({"name": "x", "scopes": ["sinks:delete"]}, "scopes"),
        ({"name": "x", "scopes": ["nothing:read"]}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "workspace_id": "nope"}, "workspace nope not found"),
        ({"name": "x", "colour": "red"}, "unknown field: colour"),
    ]
    for body, expected in cases:
        reply = await api("POST", "/v1/api-keys", body)
        assert reply.status in (400, 404), (body, reply.body)
        assert expected in reply.error, (body, reply.error)


async def test_keys_cannot_manage_keys_or_workspaces(api, make_key):
    key = await make_key()
    for method, path, body in (("GET", "/v1/api-keys", None), ("POST", "/v1/api-keys", {"name": "x"}),
                               ("GET", "/v1/workspaces", None), ("POST", "/v1/workspaces", {"name": "x"})):
        reply = await api(method, path, body, key=key)
        # A key POST gets past XSRF (no cookie involved) and is refused for its role, not for XSRF.
        assert reply.status == 403, (method, path, reply.body)
        assert "only the Jupyter user" in reply.error


async def test_key_of_one_workspace_cannot_reach_another(api, make_key):
    other = await api("POST", "/v1/workspaces", {"name": "Team B"})
    key_b = await make_key(workspace_id=other.body["id"])
    default_id = (await api("GET", "/v1/workspaces")).body["items"][-1]["id"]
    reply = await api("GET", "/v1/api-keys", key=key_b, headers={"X-OpenSink-Workspace": default_id})
    assert reply.status == 404 and "not found" in reply.error
    # The Jupyter user may pick any existing workspace, and gets 404 for unknown ones.
    assert (await api("GET", "/v1/workspaces", headers={"X-OpenSink-Workspace": other.body["id"]})).status == 200
    reply = await api("GET", "/v1/workspaces", headers={"X-OpenSink-Workspace": "missing"})
    assert reply.status == 404


async def test_key_requests_keep_the_host_check(api, make_key):
    key = await make_key()
    reply = await api("GET", "/v1/api-keys", key=key, headers={"Host": "evil.example"})
    assert reply.status == 403 and "Host" in reply.error
    reply = await api("GET", "/v1/workspaces", headers={"Host": "evil.example"})
    assert reply.status == 403


async def test_key_requests_keep_the_origin_check(api, make_key):
    key = await make_key()
    reply = await api("GET", "/v1/api-keys", key=key, headers={"Origin": "http://evil.example"})
    assert reply.status == 404


def test_scope_grammar():
    assert validate_scopes(["sinks:read", "sinks:read", "all:write"]) == ["sinks:read", "all:write"]
    assert grants(["all:all"], "sinks", "write")
    assert grants(["all:read"], "agents", "read") and not grants(["all:read"], "agents", "write")
    assert grants(["sink_items:all"], "sink_items", "write") and not grants(["sink_items:all"], "sinks", "read")
    assert grants(["sinks:write"], "sinks", "write") and not grants(["sinks:write"], "sinks", "read")
    key = Principal(workspace_id="w", is_user=False, scopes=("sinks:read",))
    key.require("sinks:read")
    try:
        key.require("sinks:write")
    except Exception as exc:
        assert "sinks:write" in str(exc)
    else:
        raise AssertionError("missing scope was granted")
    Principal(workspace_id="w", is_user=True).require("anything:write")
