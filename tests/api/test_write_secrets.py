"""Secrets that grant writing (a sink's ingest secret, a webhook's secret) are shown only to the write scope.

A read-only key gets ``null`` in their place everywhere it reads those objects: one object, a listing and
the live event stream (the MCP resources: tests/api/test_mcp.py). The Jupyter user and keys holding the
resource's write scope see them, on create and on every read, as the hosted API's clients expect.
"""

from __future__ import annotations

import asyncio

import httpx

from jupyter_opensink.client.sse import SseParser

HOOK_SECRET = "a-shared-secret-of-some-length"


async def make_objects(api) -> tuple[dict, dict]:
    sink = await api("POST", "/v1/sinks", {"name": "s"})
    hook = await api("POST", "/v1/webhooks", {"path": "secretive", "secret": HOOK_SECRET, "action": {
        "type": "create_item", "sink_id": sink.body["id"], "title": "/t"}})
    assert sink.status == hook.status == 201
    assert sink.body["secret"].startswith("sks_") and hook.body["secret"] == HOOK_SECRET
    return sink.body, hook.body


async def seen_secrets(api, key: str | None, sink: dict, hook: dict) -> set:
    """Every ``secret`` the caller gets back from the four read routes."""
    found = set()
    for path, one in (("/v1/sinks", sink), ("/v1/webhooks", hook)):
        listed = await api("GET", path, key=key)
        got = await api("GET", f"{path}/{one['id']}", key=key)
        assert listed.status == got.status == 200, (path, listed.body, got.body)
        (item,) = listed.body["items"]
        assert "secret" in item and "secret" in got.body  # the field is always there, null when withheld
        found |= {item["secret"], got.body["secret"]}
    return found


async def test_read_only_keys_never_see_write_secrets(api, make_key):
    sink, hook = await make_objects(api)
    both = {sink["secret"], hook["secret"]}
    reader = await make_key(scopes=["sinks:read", "webhooks:read"])
    assert await seen_secrets(api, reader, sink, hook) == {None}
    everything_read = await make_key(scopes=["all:read"])
    assert await seen_secrets(api, everything_read, sink, hook) == {None}
    # the write scope of one resource shows that resource's secret, not the other's
    sinks_writer = await make_key(scopes=["sinks:write", "sinks:read", "webhooks:read"])
    assert await seen_secrets(api, sinks_writer, sink, hook) == {sink["secret"], None}
    assert await seen_secrets(api, await make_key(scopes=["all:all"]), sink, hook) == both
    assert await seen_secrets(api, None, sink, hook) == both  # the Jupyter user
    # a key with the write scope gets the secret from create and patch as well
    writer = await make_key(scopes=["webhooks:write"])
    patched = await api("PATCH", f"/v1/webhooks/{hook['id']}", {"secret": HOOK_SECRET + "-2"}, key=writer)
    assert patched.status == 200 and patched.body["secret"] == HOOK_SECRET + "-2"


async def test_the_event_stream_withholds_them_too(api, make_key, jp_base_url, http_server_port, http_server):
    url = f"http://127.0.0.1:{http_server_port[1]}{jp_base_url}opensink/api/v1/events"
    reader = await make_key(scopes=["sinks:read", "webhooks:read"])
    writer = await make_key(scopes=["sinks:write", "webhooks:write", "sinks:read", "webhooks:read"])

    async def events(key: str, count: int, headers: dict | None = None, when_connected=None) -> list:
        """The first ``count`` events a stream opened with ``key`` gets; ``when_connected()`` is awaited
        once the stream is subscribed."""
        parser, found = SseParser(), []
        sent = {"Authorization": f"Bearer {key}", **(headers or {})}
        async with httpx.AsyncClient(timeout=10) as client:
            async with client.stream("GET", url, headers=sent) as response:
                assert response.status_code == 200

                async def read():
                    async for line in response.aiter_lines():
                        if line == ": connected" and when_connected is not None:
                            await when_connected()
                        event = parser.feed(line)
                        if event is not None:
                            found.append(event)
                            if len(found) == count:
                                return

                await asyncio.wait_for(read(), 10)
        return found

    created: list = []

    async def change():
        created.extend(await make_objects(api))
        await api("PATCH", f"/v1/sinks/{created[0]['id']}", {"name": "renamed"})

    live = await events(reader, 3, when_connected=change)
    sink, hook = created
    assert [e.type for e in live] == ["sink.created", "webhook.created", "sink.updated"]
    assert [e.data["id"] for e in live] == [sink["id"], hook["id"], sink["id"]]
    assert [e.data["secret"] for e in live] == [None, None, None]
    # resumed from the replay buffer: the same rule
    resume = {"Last-Event-ID": live[0].id}
    assert [e.data["secret"] for e in await events(reader, 2, resume)] == [None, None]
    assert [e.data["secret"] for e in await events(writer, 2, resume)] == [hook["secret"], sink["secret"]]
