"""Idempotency-Key on POST: a retry returns the first answer and repeats no effect."""

from __future__ import annotations

import asyncio

from jupyter_opensink.services.idempotency import IdempotencyKeys


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def count(api, path: str, **params) -> int:
    return len((await api("GET", path, params={"$limit": 500, **params})).body["items"])


async def test_a_retry_returns_the_first_answer_without_a_second_effect(api, make_key):
    key = await make_key()
    first = await api("POST", "/v1/sinks", {"name": "alerts"}, key=key, headers=keyed("retry-1"))
    assert first.status == 201 and "Idempotent-Replayed" not in first.headers
    again = await api("POST", "/v1/sinks", {"name": "alerts"}, key=key, headers=keyed("retry-1"))
    assert again.status == 201 and again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await count(api, "/v1/sinks") == 1
    # the same JSON written differently is the same request
    spaced = await api("POST", "/v1/sinks", raw=b'{ "name" :  "alerts" }', key=key, headers=keyed("retry-1"))
    assert spaced.body == first.body
    # another key of the same workspace, or the Jupyter user in it, sees the same answer
    other_key = await make_key()
    assert (await api("POST", "/v1/sinks", {"name": "alerts"}, key=other_key, headers=keyed("retry-1"))).body == first.body
    assert (await api("POST", "/v1/sinks", {"name": "alerts"}, headers=keyed("retry-1"))).body == first.body
    assert await count(api, "/v1/sinks") == 1


async def test_a_reused_key_with_another_request_is_a_conflict(api, make_key):
    key = await make_key()
    sink = (await api("POST", "/v1/sinks", {"name": "a"}, key=key, headers=keyed("k"))).body
    other_body = await api("POST", "/v1/sinks", {"name": "b"}, key=key, headers=keyed("k"))
    assert other_body.status == 409 and "different request" in other_body.error
    other_path = await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "x"}, key=key, headers=keyed("k"))
    assert other_path.status == 409
    assert await count(api, "/v1/sinks") == 1 and await count(api, "/v1/sink-items") == 0


async def test_keys_are_per_workspace(api, make_key):
    here = await make_key()
    workspace = (await api("POST", "/v1/workspaces", {"name": "elsewhere"})).body
    there = await make_key(workspace_id=workspace["id"])
    a = await api("POST", "/v1/sinks", {"name": "s"}, key=here, headers=keyed("same"))
    b = await api("POST", "/v1/sinks", {"name": "s"}, key=there, headers=keyed("same"))
    assert a.status == b.status == 201 and a.body["id"] != b.body["id"]


async def test_client_errors_are_kept_and_replayed(api, make_key):
    key = await make_key()
    bad = await api("POST", "/v1/sinks", {"name": ""}, key=key, headers=keyed("bad"))
    assert bad.status == 400
    again = await api("POST", "/v1/sinks", {"name": ""}, key=key, headers=keyed("bad"))
    assert (again.status, again.body) == (400, bad.body) and again.headers["Idempotent-Replayed"] == "true"


async def test_every_post_takes_it_input_requests_and_many_items(api, make_key):
    key = await make_key()
    sink = (await api("POST", "/v1/sinks", {"name": "bulk"}, key=key)).body
    many = {"items": [{"sink_id": sink["id"], "title": f"t{i}"} for i in range(3)]}
    for _ in range(3):
        reply = await api("POST", "/v1/sink-items/many", many, key=key, headers=keyed("bulk-1"))
        assert reply.status in (200, 201), reply.body
    assert await count(api, "/v1/sink-items") == 3
    agent = (await api("POST", "/v1/agents", {"name": "asker"}, key=key)).body
    session = (await api("POST", "/v1/agent-sessions", {"agent_id": agent["id"]}, key=key)).body
    ask = {"session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "ok?", "message": "m",
           "schema": {"type": "object"}}
    ids = {(await api("POST", "/v1/agent-session-input-requests", ask, key=key, headers=keyed("ask-1"))).body["id"]
           for _ in range(3)}
    assert len(ids) == 1 and await count(api, "/v1/agent-session-input-requests") == 1
    resolve = f"/v1/agent-session-input-requests/{ids.pop()}/resolve"
    first = await api("POST", resolve, {"response": {}}, key=key, headers=keyed("answer-1"))
    again = await api("POST", resolve, {"response": {}}, key=key, headers=keyed("answer-1"))
    assert first.status == again.status == 200 and first.body == again.body  # not a 409 "already resolved"


async def test_concurrent_requests_with_one_key_have_one_effect(api, make_key):
    key = await make_key()
    replies = await asyncio.gather(*[api("POST", "/v1/sinks", {"name": "race"}, key=key, headers=keyed("race"))
                                     for _ in range(10)])
    statuses = sorted(r.status for r in replies)
    assert 201 in statuses and set(statuses) <= {201, 409}, statuses
    assert await count(api, "/v1/sinks") == 1
    created = {r.body["id"] for r in replies if r.status == 201}
    assert len(created) == 1


async def test_bad_keys_are_refused(api, make_key):
    key = await make_key()
    reply = await api("POST", "/v1/sinks", {"name": "x"}, key=key, headers=keyed("k" * 256))
    assert reply.status == 400 and "Idempotency-Key" in reply.error
    assert await count(api, "/v1/sinks") == 0


async def test_expired_keys_are_replaced_and_purged(opensink_app):
    import datetime as dt

    keys = IdempotencyKeys(opensink_app.store, ttl=dt.timedelta(seconds=0))  # everything is already expired
    claim, replay = await keys.claim("w1", "k", "request-a")
    assert replay is None
    await keys.answer(claim, 201, b"{}")
    again, replay = await keys.claim("w1", "k", "request-b")  # expired: a fresh claim, not a conflict
    assert replay is None and again != claim
    for i in range(5):
        await keys.claim("w1", f"other-{i}", "r")
    left = await opensink_app.store.query("idempotency_keys", {}, limit=500)
    assert len(left.items) == 1  # each claim purged the expired ones before it


async def test_only_post_takes_it(api, make_key):
    key = await make_key()
    sink = (await api("POST", "/v1/sinks", {"name": "p"}, key=key)).body
    for _ in range(2):  # PATCH is idempotent by nature: applied each time, never stored
        patched = await api("PATCH", f"/v1/sinks/{sink['id']}", {"description": "d"}, key=key, headers=keyed("p"))
        assert patched.status == 200 and "Idempotent-Replayed" not in patched.headers


async def test_replies_holding_a_secret_are_not_kept(api, make_key, opensink_app):
    """A new API key and an approval link are shown once: a repeat with the same Idempotency-Key is told the
    first one succeeded (409) and is not handed the secret again, and the secret is stored nowhere."""
    from jupyter_opensink.services import TABLES

    agent = (await api("POST", "/v1/agents", {"name": "a"})).body
    session = (await api("POST", "/v1/agent-sessions", {"agent_id": agent["id"]})).body
    request = (await api("POST", "/v1/agent-session-input-requests", {
        "session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "t", "message": "m",
        "schema": {"type": "object"}})).body
    secrets = []
    for path, body in [("/v1/api-keys", {"name": "agent"}),
                       (f"/v1/agent-session-input-requests/{request['id']}/links", {})]:
        first = await api("POST", path, body, headers=keyed(f"secret-{path}"))
        assert first.status == 201, first.body
        secrets.append(first.body.get("key") or first.body["url"].rsplit("/", 1)[1])
        again = await api("POST", path, body, headers=keyed(f"secret-{path}"))
        assert again.status == 409 and again.headers["Idempotent-Replayed"] == "true"
        assert "shown only once" in again.error and secrets[-1] not in str(again.body)
    assert len((await api("GET", "/v1/api-keys", params={"workspace_id": agent["workspace_id"]})).body["items"]) >= 1
    links = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}/links")).body["items"]
    assert len(links) == 1  # the repeat made no second link
    await opensink_app.store.flush()
    for spec in TABLES:
        stored = str(await opensink_app.store.all(spec.name))
        assert not any(secret in stored for secret in secrets), spec.name
