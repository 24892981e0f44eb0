"""GET /v1/events in-process: filters, replay, slow subscribers, keep-alive, stop."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from jupyter_opensink.client.sse import SseParser


@pytest.fixture
def opensink_config():
    return {"fsync": "never", "event_queue_size": 5, "event_keepalive_seconds": 0.3, "event_replay_size": 50}


@pytest.fixture
def stream(jp_base_url, http_server_port, http_server, jp_serverapp):
    """``async with stream(params, headers) as lines`` -> an async iterator of SSE lines."""
    token = jp_serverapp.identity_provider.token
    url = f"http://127.0.0.1:{http_server_port[1]}{jp_base_url}opensink/api/v1/events"

    def open_stream(params=None, headers=None, auth=None):
        client = httpx.AsyncClient(timeout=10)
        sent = {"Authorization": auth or f"token {token}", **(headers or {})}
        return _Stream(client, client.stream("GET", url, params=params or {}, headers=sent))

    return open_stream


class _Stream:
    def __init__(self, client, context):
        self.client, self.context = client, context

    async def __aenter__(self):
        self.response = await self.context.__aenter__()
        self.lines = self.response.aiter_lines()
        return self

    async def events(self, count: int, timeout: float = 5) -> list:
        parser, found = SseParser(), []

        async def read():
            async for line in self.lines:
                event = parser.feed(line)
                if event is not None:
                    found.append(event)
                    if len(found) == count:
                        return

        await asyncio.wait_for(read(), timeout)
        return found

    async def __aexit__(self, *exc):
        await self.context.__aexit__(*exc)
        await self.client.aclose()


async def test_filtered_stream_and_replay(api, stream):
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    async with stream({"types": "item.created"}) as live:
        assert live.response.headers["Content-Type"].startswith("text/event-stream")
        await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "one"})
        await api("PATCH", f"/v1/sinks/{sink['id']}", {"name": "renamed"})  # filtered out
        await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "two"})
        first, second = await live.events(2)
    assert (first.type, first.data["title"], second.data["title"]) == ("item.created", "one", "two")
    async with stream({"types": "item.created"}, {"Last-Event-ID": first.id}) as resumed:
        (again,) = await resumed.events(1)
    assert again.id == second.id  # resumed right after the id given, from the replay buffer


async def test_too_old_an_id_gets_a_reset(api, stream):
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    async with stream() as live:
        await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "x"})
        (first,) = await live.events(1)
    for i in range(60):  # more than the replay buffer (50) holds
        await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": str(i)})
    async with stream({}, {"Last-Event-ID": first.id}) as resumed:
        (reset,) = await resumed.events(1)
    assert reset.type == "reset" and "list what you show again" in reset.data["reason"]


async def test_a_subscriber_too_far_behind_is_dropped(api, stream, opensink_app):
    async with stream() as slow:
        await asyncio.sleep(0.1)
        assert opensink_app.streams.count == 1
        workspace_id = await opensink_app.services.workspaces.default_id()
        for i in range(20):  # one burst, with no await between: more than the queue (5) holds
            opensink_app.events.emit("item.created", workspace_id, {"n": i})
        events = await slow.events(1, timeout=5)
        while events[-1].type != "reset":
            events += await slow.events(1, timeout=5)
        assert events[-1].type == "reset" and "fell too far behind" in events[-1].data["reason"]
    await asyncio.sleep(0.1)
    assert opensink_app.streams.count == 0  # nothing kept for it


async def test_streams_waiting_for_events_get_them_straight_and_in_order(stream, opensink_app):
    async with stream() as one, stream() as two:
        await asyncio.sleep(0.1)
        assert all(sub.deliver is not None for sub in opensink_app.streams._subscriptions)  # the direct path
        workspace_id = await opensink_app.services.workspaces.default_id()
        for i in range(30):
            opensink_app.events.emit("item.created", workspace_id, {"n": i})
            await asyncio.sleep(0)
        for live in (one, two):
            assert [e.data["n"] for e in await live.events(30)] == list(range(30))


async def test_a_client_that_stops_reading_gets_what_was_sent_in_order_then_a_reset(
        opensink_app, jp_serverapp, jp_base_url, http_server_port, http_server):
    """Events go straight to the socket until it is full, then through the queue (5 here) until that
    is full too: the stream ends with a reset, after a gap-free beginning."""
    import re

    reader, writer = await asyncio.open_connection("127.0.0.1", http_server_port[1], limit=2**16)
    token = jp_serverapp.identity_provider.token
    writer.write(f"GET {jp_base_url}opensink/api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: token {token}\r\n\r\n".encode())
    await asyncio.wait_for(reader.readuntil(b": connected\n\n"), 5)
    workspace_id = await opensink_app.services.workspaces.default_id()
    pad = "x" * 65536
    for i in range(200):  # ~13 MB, more than the socket buffers hold; the client reads nothing meanwhile
        opensink_app.events.emit("item.created", workspace_id, {"n": i, "pad": pad})
        await asyncio.sleep(0)
    received = bytearray()

    async def read_until_reset():
        while b"event: reset" not in received:
            chunk = await reader.read(2**20)
            if not chunk:
                break
            received.extend(chunk)

    try:
        await asyncio.wait_for(read_until_reset(), 20)
    finally:
        writer.close()
    numbers = [int(n) for n in re.findall(rb'event: item.created\ndata: {"n":(\d+)', bytes(received))]
    assert numbers == list(range(len(numbers))) and 0 < len(numbers) < 200
    assert received.rindex(b"event: reset") > received.rindex(b"event: item.created")


async def test_keep_alive_and_clean_close_on_stop(stream, opensink_app):
    async with stream() as idle:
        lines = []

        async def read():
            async for line in idle.lines:
                lines.append(line)

        reader = asyncio.ensure_future(read())
        await asyncio.sleep(1.0)
        assert lines.count(": keep-alive") >= 2
        opensink_app.streams.close_all()
        await asyncio.wait_for(reader, 5)  # the server ended the stream


async def test_who_may_stream_what(api, stream, make_key):
    reader = await make_key(scopes=["agents:read"])
    async with stream({"workspaces": "all"}, auth=f"Bearer {reader}") as refused:
        assert refused.response.status_code == 403
    async with stream({"workspaces": "all"}) as everything:
        team = (await api("POST", "/v1/workspaces", {"name": "Team"})).body
        await api("POST", "/v1/agents", {"name": "a"}, headers={"X-OpenSink-Workspace": team["id"]})
        (event,) = await everything.events(1)
    assert event.type == "agent.created" and event.data["workspace_id"] == team["id"]
    async with stream(auth="Bearer osk_nope") as unknown:
        assert unknown.response.status_code == 401


async def test_kernels_inherit_a_working_url_and_key(jp_serverapp, http_server, opensink_app):
    import os

    from jupyter_opensink.client import AsyncClient, Unauthorized

    await jp_serverapp._post_start()
    first_key = os.environ["OPENSINK_API_KEY"]
    assert os.environ["OPENSINK_URL"].endswith("/a%40b/opensink")
    assert os.environ["OPENSINK_EXECUTION_SECRET"].startswith("whsec_")
    async with AsyncClient() as client:  # no arguments: what a kernel launched by this server does
        sink = await client.sinks.create(name="from a kernel")
        assert sink["workspace_id"] == await opensink_app.services.workspaces.default_id()
        # It acts as the Jupyter user: a notebook can make keys for its external agents.
        made = await client.api_keys.create(name="for an external agent", scopes=["sink_items:write"])
        assert made["key"].startswith("osk_")
    await opensink_app.services.api_keys.mint_kernel_key(opensink_app.kernel_key_owner())  # a restart mints a new one ...
    async with AsyncClient(api_key=first_key) as stale:
        with pytest.raises(Unauthorized):  # ... and revokes the old
            await stale.sinks.list()
    if opensink_app.store.shared:  # another server starting on the same database leaves this one's key alone
        mine = await opensink_app.services.api_keys.mint_kernel_key(opensink_app.kernel_key_owner())
        await opensink_app.services.api_keys.mint_kernel_key("another host http://127.0.0.1:1/x/opensink")
        async with AsyncClient(api_key=mine) as still:
            await still.sinks.list()


async def _lines_until_closed(live, timeout: float) -> list[str]:
    """The stream's lines until the server ends it (fails if it is still open after ``timeout``)."""
    lines: list[str] = []

    async def read():
        async for line in live.lines:
            lines.append(line)

    await asyncio.wait_for(read(), timeout)
    return lines


async def test_a_keys_stream_ends_when_the_key_is_revoked(api, stream, make_key):
    """A stream opened before ``DELETE /v1/api-keys/{id}`` kept receiving events."""
    key = await make_key(scopes=["all:read"])
    key_id = next(k["id"] for k in (await api("GET", "/v1/api-keys")).body["items"] if key.startswith(k["prefix"]))
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    async with stream(auth=f"Bearer {key}") as live:
        await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "before"})
        (before,) = await live.events(1)
        assert before.data["title"] == "before"
        assert (await api("DELETE", f"/v1/api-keys/{key_id}")).status == 200
        revoked_at = asyncio.get_running_loop().time()
        await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "after"})
        lines = await _lines_until_closed(live, 2)
        assert asyncio.get_running_loop().time() - revoked_at < 2
    assert ": closed: the API key was revoked" in lines
    assert not any("after" in line for line in lines)
    async with stream(auth=f"Bearer {key}") as again:
        assert again.response.status_code == 401


async def test_a_keys_stream_ends_when_the_key_expires(api, stream, opensink_app):
    import datetime

    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1.5)
    made = await api("POST", "/v1/api-keys", {"name": "short", "expires_at": expires.isoformat()})
    assert made.status == 201, made.body
    async with stream(auth=f"Bearer {made.body['key']}") as live:
        assert live.response.status_code == 200
        lines = await _lines_until_closed(live, 4)
    assert ": closed: the API key expired" in lines
    assert datetime.datetime.now(datetime.timezone.utc) < expires + datetime.timedelta(seconds=2)
    assert opensink_app.credentials.count == 0  # nothing kept for the ended stream


async def test_a_kernel_keys_stream_ends_when_a_restart_replaces_the_key(api, stream, opensink_app):
    """The kernels' key acts as the Jupyter user, but what it opened still ends with it."""
    old = await opensink_app.services.api_keys.mint_kernel_key(opensink_app.kernel_key_owner())
    async with stream(auth=f"Bearer {old}") as live:
        assert live.response.status_code == 200
        await asyncio.sleep(0.1)
        await opensink_app.services.api_keys.mint_kernel_key(opensink_app.kernel_key_owner())
        lines = await _lines_until_closed(live, 2)
    assert ": closed: the API key was revoked" in lines
