"""Inbound webhooks: definitions, the three ways to authenticate, de-duplication, both actions, invocations."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from jupyter_opensink import ids
from jupyter_opensink.models.agents import ExecutionDelivery
from jupyter_opensink.runtime.outbound import sign
from jupyter_opensink.services.webhooks import CLOCK_SKEW, SIGNATURE_TOLERANCE

from ..conftest import Reply

SECRET = "a-shared-secret-of-some-length"


@pytest.fixture
def hook(http_server_client, jp_base_url):
    """``await hook(path, payload, headers=, key=, raw=)``: POST {base_url}opensink/hooks/<path> -> Reply."""

    async def post(path: str, payload, *, headers: dict | None = None, key: str | None = None,
                   raw: bytes | None = None) -> Reply:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        body = raw if raw is not None else json.dumps(payload).encode()
        response = await http_server_client.fetch(f"{jp_base_url}opensink/hooks/{path}", method="POST",
                                                  headers=sent, body=body, raise_error=False)
        return Reply(response.code, json.loads(response.body) if response.body else None, response.headers)

    return post


def signed(body: bytes, secret: str = SECRET, *, at: int | None = None, message_id: str = "msg_1") -> dict:
    stamp = at if at is not None else int(time.time())
    return {"webhook-id": message_id, "webhook-timestamp": str(stamp),
            "webhook-signature": sign(secret, message_id, stamp, body)}


async def test_create_item_webhook_all_three_ways_in(hook, api, make_key):
    sink = (await api("POST", "/v1/sinks", {"name": "alerts"})).body
    made = await api("POST", "/v1/webhooks", {
        "path": "monitoring", "secret": SECRET,
        "action": {"type": "create_item", "sink_id": sink["id"], "title": "/alert/summary", "body": "/alert/detail",
                   "fields": {"host": "/alert/host", "level": "/level"}, "defaults": {"level": "info"}}})
    assert made.status == 201 and made.body["path"] == "monitoring" and made.body["secret"] == SECRET
    payload = {"alert": {"summary": "Disk full", "detail": "98%", "host": "db1"}}

    key = await make_key(scopes=["webhooks:write"])
    by_key = await hook("monitoring", payload, key=key)
    assert by_key.status == 201, by_key.body
    item = by_key.body["item"]
    assert (item["title"], item["body"], item["fields"]) == ("Disk full", "98%", {"host": "db1", "level": "info"})
    assert item["sink_id"] == sink["id"]

    body = json.dumps(payload).encode()
    assert (await hook("monitoring", None, raw=body, headers=signed(body))).status == 201
    assert (await hook("monitoring", payload, headers={"X-OpenSink-Webhook-Secret": SECRET})).status == 201
    items = (await api("GET", "/v1/sink-items", params={"sink_id": sink["id"]})).body["items"]
    assert len(items) == 3

    invocations = (await api("GET", "/v1/webhook-invocations", params={"webhook_id": made.body["id"]})).body["items"]
    assert [i["outcome"] for i in invocations] == ["item_created"] * 3 and invocations[0]["item_id"]


async def test_refusals(hook, api, make_key):
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    action = {"type": "create_item", "sink_id": sink["id"], "title": "/t"}
    await api("POST", "/v1/webhooks", {"path": "guarded", "secret": SECRET, "action": action})
    await api("POST", "/v1/webhooks", {"path": "keys-only", "action": action})
    body = b'{"t": "x"}'
    for name, headers in {
        "no credential": {},
        "wrong shared secret": {"X-OpenSink-Webhook-Secret": "not-the-secret-at-all"},
        "signature with another secret": signed(body, "another-secret-entirely"),
        "stale signature": signed(body, at=int(time.time()) - 3600),
        "signature of another body": signed(b'{"t": "y"}'),
    }.items():
        reply = await hook("guarded", None, raw=body, headers=headers)
        assert reply.status == 401, (name, reply.body)
    # a secret-less webhook takes keys only; an unknown path looks the same as a wrong secret
    assert (await hook("keys-only", None, raw=body,
                       headers={"X-OpenSink-Webhook-Secret": SECRET})).status == 401
    assert (await hook("no-such-hook", None, raw=body, headers=signed(body))).status == 401
    # keys: the right scope, the right workspace
    reader = await make_key(scopes=["webhooks:read"])
    assert (await hook("guarded", None, raw=body, key=reader)).status == 403
    workspace = (await api("POST", "/v1/workspaces", {"name": "other"})).body
    outsider = await make_key(workspace_id=workspace["id"])
    assert (await hook("guarded", None, raw=body, key=outsider)).status == 404
    # bad payloads name what is wrong, and are recorded
    key = await make_key()
    not_object = await hook("guarded", [1, 2], key=key)
    assert not_object.status == 400 and "JSON object" in not_object.error
    no_title = await hook("guarded", {"other": 1}, key=key)
    assert no_title.status == 400 and "/t" in no_title.error and "title" in no_title.error
    wrong_type = await hook("guarded", {"t": 5}, key=key)
    assert wrong_type.status == 400 and "title" in wrong_type.error
    outcomes = [i["outcome"] for i in (await api("GET", "/v1/webhook-invocations")).body["items"]]
    assert outcomes.count("refused") == 3


async def test_definitions_are_validated(hook, api):
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    action = {"type": "create_item", "sink_id": sink["id"], "title": "/t"}
    assert (await api("POST", "/v1/webhooks", {"path": "dup", "action": action})).status == 201
    taken = await api("POST", "/v1/webhooks", {"path": "dup", "action": action})
    assert taken.status == 409 and "taken" in taken.error
    bad = await api("POST", "/v1/webhooks", {"path": "a/b", "action": action})  # all cases: tests/test_bodies.py
    assert bad.status == 400 and bad.error.startswith("path:"), bad.body
    missing = await api("POST", "/v1/webhooks", {"path": "p", "action": {**action, "sink_id": "nope"}})
    assert missing.status == 404
    agent = (await api("POST", "/v1/agents", {"name": "no endpoint"})).body
    silent = await api("POST", "/v1/webhooks", {"path": "p", "action": {"type": "run_agent", "agent_id": agent["id"]}})
    assert silent.status == 400 and "execution_endpoint" in silent.error
    hook_id = (await api("GET", "/v1/webhooks")).body["items"][0]["id"]
    renamed = await api("PATCH", f"/v1/webhooks/{hook_id}", {"path": "renamed"})
    assert renamed.status == 200 and renamed.body["path"] == "renamed"
    assert (await api("DELETE", f"/v1/webhooks/{hook_id}")).status == 200
    assert (await api("GET", f"/v1/webhooks/{hook_id}")).status == 404


async def test_deduplication_window(hook, api, make_key):
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    action = {"type": "create_item", "sink_id": sink["id"], "title": "/t"}
    await api("POST", "/v1/webhooks", {"path": "by-id", "action": action, "dedup": {"key": "/id", "ttl_seconds": 1}})
    await api("POST", "/v1/webhooks", {"path": "by-header", "action": action,
                                       "dedup": {"key": "header:X-Delivery", "ttl_seconds": 60}})
    key = await make_key()
    assert (await hook("by-id", {"id": 7, "t": "first"}, key=key)).status == 201
    again = await hook("by-id", {"id": 7, "t": "again"}, key=key)
    assert again.status == 200 and again.body == {"deduplicated": True}
    assert (await hook("by-id", {"id": 8, "t": "other"}, key=key)).status == 201
    missing = await hook("by-id", {"t": "no id"}, key=key)
    assert missing.status == 400 and "/id" in missing.error
    time.sleep(1.1)  # the window has passed
    assert (await hook("by-id", {"id": 7, "t": "later"}, key=key)).status == 201
    h = {"X-Delivery": "abc"}
    assert (await hook("by-header", {"t": "1"}, key=key, headers=h)).status == 201
    assert (await hook("by-header", {"t": "2"}, key=key, headers=h)).body == {"deduplicated": True}
    assert (await hook("by-header", {"t": "3"}, key=key)).status == 400
    titles = sorted(i["title"] for i in (await api("GET", "/v1/sink-items")).body["items"])
    assert titles == ["1", "first", "later", "other"]


async def test_run_agent_webhook_calls_the_agent(hook, api, make_key, receiver):
    agent = (await api("POST", "/v1/agents", {"name": "runner", "execution_endpoint": {
        "url": receiver.url("/run"), "body": {"mode": "webhook", "session_id": "never"}}})).body
    made = await api("POST", "/v1/webhooks", {"path": "start", "secret": SECRET,
                                              "action": {"type": "run_agent", "agent_id": agent["id"],
                                                         "body": {"source": "ci"}}})
    assert made.status == 201
    reply = await hook("start", {"commit": "abc123"}, headers={"X-OpenSink-Webhook-Secret": SECRET})
    assert reply.status == 201 and reply.body["delivery"]["status_code"] == 200, reply.body
    (call,) = await receiver.wait_for(1)
    assert call.json["commit"] == "abc123" and call.json["source"] == "ci" and call.json["mode"] == "webhook"
    assert call.headers["X-Opensink-Secret"] == agent["execution_secret"]  # the agent's own, as on a resolve
    assert reply.body["delivery"]["trigger"] == "webhook"
    # the listing shows it as its description says (the trigger "webhook" is one of the described values)
    listed = await api("GET", f"/v1/execution-deliveries?agent_id={agent['id']}")
    (delivery,) = listed.body["items"]
    assert ExecutionDelivery.model_validate(delivery).trigger == "webhook"


async def test_a_signed_call_is_accepted_once(hook, api, opensink_app):
    """Replaying a captured signed call (same webhook-id, timestamp and signature) does nothing: 409."""
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    action = {"type": "create_item", "sink_id": sink["id"], "title": "/t"}
    await api("POST", "/v1/webhooks", {"path": "once", "secret": SECRET, "action": action})
    body = b'{"t": "pay 100"}'
    captured = signed(body, message_id="msg_replayed")
    assert (await hook("once", None, raw=body, headers=captured)).status == 201
    replay = await hook("once", None, raw=body, headers=captured)
    assert replay.status == 409 and "msg_replayed" in replay.error and "already received" in replay.error
    # the same id signed again later (a sender's retry with a new timestamp) is the same call
    resent = signed(body, message_id="msg_replayed", at=int(time.time()) + 1)
    assert (await hook("once", None, raw=body, headers=resent)).status == 409
    # two deliveries of one new id at the same moment: exactly one goes through
    twins = signed(body, message_id="msg_twins")
    both = await asyncio.gather(*(hook("once", None, raw=body, headers=twins) for _ in range(2)))
    assert sorted(r.status for r in both) == [201, 409]
    assert (await hook("once", None, raw=body, headers=signed(body, message_id="msg_other"))).status == 201
    items = (await api("GET", "/v1/sink-items", params={"sink_id": sink["id"]})).body["items"]
    assert len(items) == 3
    # remembered in the database, not in memory, until the timestamp is too old to be accepted
    remembered = await opensink_app.store.all("webhook_messages")
    assert len(remembered) == 3
    assert all(r["expires_at"] > ids.format_time(time.time() + SIGNATURE_TOLERANCE - 5) for r in remembered)


async def test_signed_timestamps_may_be_ahead_by_the_clock_skew_only(hook, api):
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    action = {"type": "create_item", "sink_id": sink["id"], "title": "/t"}
    await api("POST", "/v1/webhooks", {"path": "clock", "secret": SECRET, "action": action})
    body = b'{"t": "x"}'
    now = int(time.time())
    assert (await hook("clock", None, raw=body, headers=signed(body, at=now + CLOCK_SKEW - 5,
                                                               message_id="m1"))).status == 201
    for ahead in (CLOCK_SKEW + 10, 290):
        headers = signed(body, at=now + ahead, message_id=f"m{ahead}")
        reply = await hook("clock", None, raw=body, headers=headers)
        assert reply.status == 401, ahead
    old = await hook("clock", None, raw=body,
                     headers=signed(body, at=now - SIGNATURE_TOLERANCE + 5, message_id="m2"))
    assert old.status == 201


async def test_expired_webhook_records_are_purged(hook, api, opensink_app, make_key):
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    action = {"type": "create_item", "sink_id": sink["id"], "title": "/t"}
    await api("POST", "/v1/webhooks", {"path": "purged", "secret": SECRET, "action": action,
                                       "dedup": {"key": "/id", "ttl_seconds": 60}})
    body = b'{"t": "x", "id": 1}'
    assert (await hook("purged", None, raw=body, headers=signed(body, message_id="m"))).status == 201
    store = opensink_app.store
    assert await opensink_app.services.purge_expired() == 0  # nothing has expired yet
    for table in ("webhook_messages", "webhook_dedup"):
        (row,) = await store.all(table)
        await store.update(table, row["id"], {"expires_at": "2020-01-01T00:00:00.000Z"})
    assert await opensink_app.services.purge_expired() == 2
    assert await store.count("webhook_messages") == await store.count("webhook_dedup") == 0
