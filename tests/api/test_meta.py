"""/v1/discovery per credential, and the request log: what it records, what it never does, retention."""

from __future__ import annotations

import asyncio
import datetime as dt


async def test_discovery_tells_each_credential_what_it_can_do(api, make_key):
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "one"})
    user = (await api("GET", "/v1/discovery")).body
    assert user["caller"]["type"] == "jupyter_user" and user["caller"]["scopes"] == ["all:all"]
    assert user["workspace"]["is_default"] is True and user["server"]["name"] == "jupyter_opensink"
    assert user["counts"]["sinks"] == 1 and user["counts"]["sink_items"] == 1
    assert "idempotency_keys" in user["features"]

    key = await make_key(scopes=["sink_items:write", "agents:read"])
    narrow = (await api("GET", "/v1/discovery", key=key)).body
    assert narrow["caller"]["type"] == "api_key" and narrow["caller"]["key_id"]
    assert narrow["caller"]["scopes"] == ["sink_items:write", "agents:read"]
    assert narrow["access"]["sink_items"] == {"read": False, "write": True}
    assert narrow["access"]["agents"] == {"read": True, "write": False}
    assert set(narrow["counts"]) == {"agents"}  # counts only of what it may read

    workspace = (await api("POST", "/v1/workspaces", {"name": "elsewhere"})).body
    other = (await api("GET", "/v1/discovery", key=await make_key(workspace_id=workspace["id"]))).body
    assert other["workspace"]["id"] == workspace["id"] and other["counts"]["sinks"] == 0
    assert (await api("GET", "/v1/discovery", auth=None)).status == 401


async def test_the_request_log_records_requests_without_secrets(api, make_key, opensink_app):
    key = await make_key(scopes=["sinks:all"])
    await api("POST", "/v1/sinks", {"name": "logged", "description": "a secret body"}, key=key)
    await api("GET", "/v1/sinks/does-not-exist", key=key, params={"token": "should-not-appear"})
    await api("GET", "/v1/sinks", auth=None)
    entries = (await api("GET", "/v1/request-logs", params={"$limit": 500})).body["items"]
    def first(status: int, path_end: str) -> dict:
        return next(e for e in entries if e["status"] == status and e["path"].endswith(path_end))

    created, missing, refused = first(201, "/v1/sinks"), first(404, "/does-not-exist"), first(401, "/v1/sinks")
    key_id = (await api("GET", "/v1/discovery", key=key)).body["caller"]["key_id"]
    assert created["method"] == "POST" and created["path"].endswith("/opensink/api/v1/sinks")
    assert created["key_id"] == key_id and created["user"] is None and created["request_bytes"] > 0
    assert created["response_bytes"] > 0 and created["duration_ms"] >= 0
    assert missing["path"].endswith("/v1/sinks/does-not-exist")
    assert refused["key_id"] is None and refused["workspace_id"] is None
    text = str(entries)
    assert "a secret body" not in text and "should-not-appear" not in text and key not in text
    assert (await api("GET", "/v1/request-logs", params={"status": "404"})).body["items"] == [missing]
    assert all(e["key_id"] == key_id
               for e in (await api("GET", "/v1/request-logs", params={"key_id": key_id})).body["items"])
    by_path = (await api("GET", "/v1/request-logs", params={"path": missing["path"]})).body["items"]
    assert by_path == [missing]
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)).isoformat()
    assert (await api("GET", "/v1/request-logs", params={"since": later})).body["items"] == []
    assert (await api("GET", "/v1/request-logs", params={"status": "abc"})).status == 400
    assert (await api("GET", "/v1/request-logs", params={"since": "yesterday"})).status == 400
    assert (await api("GET", "/v1/request-logs", key=key)).status == 403  # the Jupyter user's only


async def test_the_request_log_is_bounded_by_count_and_age(api, opensink_app):
    log = opensink_app.services.request_log
    log.max_entries = 5
    for _ in range(12):
        await api("GET", "/v1/sinks")
    await log.flush()
    assert await opensink_app.store.count("request_logs") == 5
    log.max_age = dt.timedelta(seconds=0)
    await asyncio.sleep(0.01)  # times have millisecond steps: an entry of this very millisecond is not older
    await log.flush()
    assert await opensink_app.store.count("request_logs") == 0


async def test_a_read_of_the_request_log_shows_the_request_just_made(api, make_key, jp_base_url):
    """The log buffers its writes (a flush a second); a read writes the buffer first, so the call an operator
    is debugging is there (here nothing flushes by itself: the periodic flush runs only in a started server)."""
    key = await make_key(scopes=["sinks:read"])
    failed = await api("GET", "/v1/sinks/just-failed", key=key)
    assert failed.status == 404
    entries = (await api("GET", "/v1/request-logs", params={"path": f"{jp_base_url}opensink/api/v1/sinks/just-failed"}))
    assert entries.status == 200, entries.body
    [entry] = entries.body["items"]
    assert entry["status"] == 404 and entry["method"] == "GET" and entry["key_id"]
    # The read itself is logged as it ends: the next read shows it.
    reads = (await api("GET", "/v1/request-logs", params={"path": f"{jp_base_url}opensink/api/v1/request-logs"})).body
    assert [e["status"] for e in reads["items"]] == [200]


async def test_a_read_waits_for_a_flush_already_writing(api, opensink_app, monkeypatch):
    """A periodic flush takes the buffer, then writes it: a read meanwhile must not list the store without it.
    (The store is the real one; its write is held until the read has had every chance to overtake it.)"""
    log = opensink_app.services.request_log
    log.record(method="GET", path="/in-flight", status=500, duration_ms=1.0, key_id=None, user="u",
               workspace_id=None, request_bytes=0, response_bytes=None)
    held, write = asyncio.Event(), log.store.batch

    async def held_write(operations):
        await held.wait()
        return await write(operations)

    monkeypatch.setattr(log.store, "batch", held_write)
    writing = asyncio.ensure_future(log.flush())
    await asyncio.sleep(0)  # the flush has taken the entry from the buffer
    reading = asyncio.ensure_future(log.list({"path": "/in-flight"}, limit=10, after=None, order="desc"))
    await asyncio.sleep(0.2)
    assert not reading.done()  # it waits for the write in flight...
    held.set()
    page = await asyncio.wait_for(reading, 10)
    assert [e["status"] for e in page.items] == [500]  # ...so it lists the entry
    await asyncio.wait_for(writing, 10)
