"""The MCP endpoint, driven by the official MCP client library against the real server.

Every test runs in both protocol eras the SDK speaks: ``auto`` (the client
probes and adopts the stateless 2026-07-28 protocol) and ``legacy`` (the
initialize handshake and a stateful session). What the MCP session layer keeps in memory (its sessions,
streams, limits, progress) is tested on one store; every test of a tool's reads and writes on both.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
from typing import Any

import httpx2
import pytest

from .conftest import store_independent

#: The tests that talk MCP run on one xdist worker, and the MCP SDK's client is imported by the first of
#: them: the SDK's ``mcp`` package (its client here, its server in the extension at the first MCP request) is
#: then loaded by that worker's process alone, instead of by every test process as it collects (about half a
#: second each, a third of the quick loop's collection) and by every worker that runs one of these tests.
#: (``mcp_types`` still comes with tests/services/test_mcp_tools.py.)
on_the_mcp_worker = pytest.mark.xdist_group("mcp")
pytestmark = on_the_mcp_worker


def mcp_error() -> type[Exception]:
    """The SDK's error for a call the server refused."""
    from mcp.shared.exceptions import MCPError

    return MCPError

TRADE = {"type": "object", "properties": {"approve": {"type": "boolean"},
                                          "size": {"type": "integer", "minimum": 1, "maximum": 100}},
         "required": ["approve"]}


@pytest.fixture(params=["auto", "legacy"])
def mode(request) -> str:
    return request.param


@pytest.fixture
def mcp_url(jp_http_port, jp_base_url) -> str:
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}opensink/mcp"


@pytest.fixture
def mcp_client(mcp_url, jp_serverapp, mode):
    """``async with mcp_client(key=...) as client``: the SDK's client on /opensink/mcp (the Jupyter token
    without a key)."""

    @contextlib.asynccontextmanager
    async def connect(*, key: str | None = None, name: str = "research-bot"):
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client
        from mcp_types import Implementation

        token = f"Bearer {key}" if key else f"token {jp_serverapp.identity_provider.token}"
        async with httpx2.AsyncClient(headers={"Authorization": token}, timeout=30) as http:
            async with Client(streamable_http_client(mcp_url, http_client=http), mode=mode,
                              client_info=Implementation(name=name, version="1.0")) as client:
                yield client

    return connect


async def pending_request(api, timeout: float = 10.0) -> dict[str, Any]:
    """The one pending input request, once the tool call has made it."""
    for _ in range(int(timeout / 0.02)):
        items = (await api("GET", "/v1/agent-session-input-requests", params={"status": "pending"})).body["items"]
        if items:
            assert len(items) == 1, items
            return items[0]
        await asyncio.sleep(0.02)
    raise AssertionError("no input request was made")


def error_of(result) -> str:
    assert result.is_error, result
    assert result.structured_content["error"] == result.content[0].text
    return result.structured_content["error"]


@store_independent
async def test_tools_are_listed_with_input_and_output_schemas(mcp_client, make_key):
    async with mcp_client(key=await make_key()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {"ask_human", "get_input_request", "write_item", "search_items", "log_activity",
                          "update_session", "get_state", "set_state"}
    for tool in tools.values():
        assert tool.input_schema["type"] == "object" and tool.output_schema["type"] == "object", tool.name
        assert "Needs the scope" in tool.description
    assert set(tools["ask_human"].input_schema["required"]) == {"title", "message"}
    assert "timeout_seconds" in tools["ask_human"].input_schema["properties"]
    assert set(tools["write_item"].input_schema["required"]) == {"sink_id", "title"}
    assert tools["search_items"].annotations.read_only_hint and not tools["write_item"].annotations.read_only_hint


async def test_ask_human_waits_for_the_answer_given_over_http(mcp_client, make_key, api, receiver):
    """The human answers as the widget does (POST .../resolve); the waiting tool call returns the answer,
    and the agent's own execution endpoint is still called once."""
    agent = (await api("POST", "/v1/agents", {"name": "trader",
                                              "execution_endpoint": {"url": receiver.url("/trader")}})).body
    async with mcp_client(key=await make_key()) as client:
        call = asyncio.create_task(client.call_tool("ask_human", {
            "title": "Buy 10 ACME?", "message": "The signal fired.", "schema": TRADE, "agent_id": agent["id"],
            "timeout_seconds": 30}))
        request = await pending_request(api)
        assert request["title"] == "Buy 10 ACME?" and request["schema"] == TRADE
        assert not call.done()
        bad = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
                        {"response": {"approve": True, "size": 1000}})
        assert bad.status == 400 and not call.done()  # an invalid answer settles nothing
        good = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
                         {"response": {"approve": True, "size": 10}})
        assert good.status == 200, good.body
        result = await asyncio.wait_for(call, 10)
    assert not result.is_error, result
    answer = result.structured_content
    assert answer["status"] == "resolved" and answer["next"] == "done"
    assert answer["response"] == {"approve": True, "size": 10} and answer["request_id"] == request["id"]
    assert answer["agent_id"] == agent["id"] and answer["session_id"] == request["session_id"]
    assert answer["resolved_by"].startswith("user:") and answer["resolved_by_name"] == getpass.getuser()
    assert json.loads(result.content[0].text) == answer
    calls = await receiver.wait_for(1)
    assert calls[0].json["request_id"] == request["id"]
    await asyncio.sleep(0.2)
    assert len(receiver.calls) == 1
    timeline = (await api("GET", "/v1/agent-session-activities",
                          params={"session_id": request["session_id"], "$order": "asc"})).body["items"]
    assert [a["type"] for a in timeline] == ["session_started", "input_request_created", "input_request_resolved"]


async def test_ask_human_without_an_agent_names_one_after_the_client(mcp_client, make_key, api):
    async with mcp_client(key=await make_key(), name="notebook-helper") as client:
        first = await client.call_tool("ask_human", {"title": "Proceed?", "message": "m", "timeout_seconds": 0})
        second = await client.call_tool("ask_human", {"title": "Again?", "message": "m", "timeout_seconds": 0,
                                                       "agent_name": "reviewer"})
    agents = {a["name"]: a for a in (await api("GET", "/v1/agents")).body["items"]}
    assert set(agents) == {"notebook-helper", "reviewer"}
    assert first.structured_content["agent_id"] == agents["notebook-helper"]["id"]
    assert second.structured_content["agent_id"] == agents["reviewer"]["id"]
    request = (await api("GET", f"/v1/agent-session-input-requests/{first.structured_content['request_id']}")).body
    assert request["schema"]["required"] == ["approved"]  # the default yes/no schema
    assert agents["notebook-helper"]["status"] == "waiting_for_input"
    async with mcp_client(key=await make_key(), name="notebook-helper") as client:  # found again, not made twice
        await client.call_tool("ask_human", {"title": "Third?", "message": "m", "timeout_seconds": 0})
    assert len((await api("GET", "/v1/agents")).body["items"]) == 2


async def test_timeout_returns_a_pending_handle_to_poll(mcp_client, make_key, api):
    async with mcp_client(key=await make_key()) as client:
        started = asyncio.get_running_loop().time()
        result = await client.call_tool("ask_human", {"title": "Deploy?", "message": "m", "timeout_seconds": 0.3})
        waited = asyncio.get_running_loop().time() - started
        handle = result.structured_content
        assert not result.is_error and handle["status"] == "pending" and handle["next"] == "poll"
        assert handle["response"] is None and 0.3 <= waited < 5
        now = await client.call_tool("get_input_request", {"request_id": handle["request_id"]})
        assert now.structured_content["status"] == "pending"
        poll = asyncio.create_task(client.call_tool("get_input_request", {"request_id": handle["request_id"],
                                                                          "timeout_seconds": 30}))
        await asyncio.sleep(0.3)
        assert not poll.done()
        reply = await api("POST", f"/v1/agent-session-input-requests/{handle['request_id']}/resolve",
                          {"response": {"approved": False, "comment": "not today"}})
        assert reply.status == 200
        done = (await asyncio.wait_for(poll, 10)).structured_content
        assert done["status"] == "resolved" and done["response"] == {"approved": False, "comment": "not today"}
        too_long = await client.call_tool("get_input_request", {"request_id": handle["request_id"],
                                                                "timeout_seconds": 100_000})
        assert "timeout_seconds: at most 600" in error_of(too_long)


async def test_an_expired_request_says_ask_again(mcp_client, make_key, api, opensink_app):
    async with mcp_client(key=await make_key()) as client:
        handle = (await client.call_tool("ask_human", {"title": "Quick?", "message": "m",
                                                       "timeout_seconds": 0})).structured_content
        waiting = asyncio.create_task(client.call_tool("get_input_request", {
            "request_id": handle["request_id"], "timeout_seconds": 30}))
        await asyncio.sleep(0.2)
        request = (await api("GET", f"/v1/agent-session-input-requests/{handle['request_id']}")).body
        await opensink_app.services.input_requests.expire(request["workspace_id"], request["id"])
        expired = (await asyncio.wait_for(waiting, 10)).structured_content
    assert expired["status"] == "expired" and expired["next"] == "ask_again"


async def test_write_item_then_search_items(mcp_client, make_key, api):
    sink = (await api("POST", "/v1/sinks", {"name": "findings"})).body
    other = (await api("POST", "/v1/sinks", {"name": "other"})).body
    async with mcp_client(key=await make_key(scopes=["sink_items:all"])) as client:
        written = []
        for n in range(5):
            result = await client.call_tool("write_item", {
                "sink_id": sink["id"], "title": f"Finding {n}", "body": "anomaly in eu-west" if n % 2 else "fine",
                "fields": {"score": n}, "occurred_at": "2026-11-25T14:00:00Z"})
            assert not result.is_error, result
            written.append(result.structured_content)
        await client.call_tool("write_item", {"sink_id": other["id"], "title": "anomaly elsewhere"})
        assert written[0]["sink_id"] == sink["id"] and written[0]["occurred_at"] == "2026-11-25T14:00:00.000Z"
        http_item = (await api("GET", f"/v1/sink-items/{written[0]['id']}")).body
        assert http_item == written[0]  # the same object the HTTP API shows
        found = (await client.call_tool("search_items", {"q": "ANOMALY", "sink_id": sink["id"]})).structured_content
        assert [i["title"] for i in found["items"]] == ["Finding 3", "Finding 1"] and found["trail"] is None
        everywhere = (await client.call_tool("search_items", {"q": "anomaly"})).structured_content
        assert len(everywhere["items"]) == 3
        first = (await client.call_tool("search_items", {"sink_id": sink["id"], "limit": 2})).structured_content
        rest = (await client.call_tool("search_items", {"sink_id": sink["id"], "limit": 10,
                                                        "trail": first["trail"]})).structured_content
        titles = [i["title"] for i in first["items"] + rest["items"]]
        assert titles == [f"Finding {n}" for n in range(4, -1, -1)]


async def test_errors_carry_the_http_apis_messages(mcp_client, make_key, api):
    """A refused tool call reaches the client as the HTTP API's message and status (every case, without a
    server: tests/services/test_mcp_tools.py)."""
    arguments = {"sink_id": "nope", "title": "t"}
    async with mcp_client(key=await make_key()) as client:
        http = await api("POST", "/v1/sink-items", arguments)
        assert http.status == 404 and http.error == "sink nope not found", http.body
        result = await client.call_tool("write_item", arguments)
        assert error_of(result) == http.error and result.structured_content["status"] == http.status
        with pytest.raises(mcp_error(), match="no tool 'drop_tables'"):
            await client.call_tool("drop_tables", {})


async def test_missing_scopes_are_refused(mcp_client, make_key, api):
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    async with mcp_client(key=await make_key(scopes=["sink_items:read"])) as client:
        refused = await client.call_tool("write_item", {"sink_id": sink["id"], "title": "t"})
        assert error_of(refused) == "this API key lacks the scope sink_items:write"
        assert refused.structured_content["status"] == 403
        assert not (await client.call_tool("search_items", {})).is_error
        asked = await client.call_tool("ask_human", {"title": "t", "message": "m", "timeout_seconds": 0})
        assert error_of(asked) == "this API key lacks the scope agent_session_input_requests:write"
        with pytest.raises(mcp_error(), match="lacks the scope sinks:read"):
            await client.read_resource(f"opensink://sinks/{sink['id']}")
    # asking without a session needs the scopes for what is made on the way (here: the agent)
    async with mcp_client(key=await make_key(scopes=["agent_session_input_requests:all"])) as client:
        asked = await client.call_tool("ask_human", {"title": "t", "message": "m", "timeout_seconds": 0})
        assert error_of(asked) == "this API key lacks the scope agents:read"
    async with mcp_client(key=await make_key(scopes=["agent_session_input_requests:all", "agents:read",
                                                     "agent_sessions:all"])) as client:
        asked = await client.call_tool("ask_human", {"title": "t", "message": "m", "timeout_seconds": 0})
        assert error_of(asked) == "this API key lacks the scope agents:write"
    assert (await api("GET", "/v1/agents")).body["items"] == []  # nothing was half made
    assert (await api("GET", "/v1/sink-items")).body["items"] == []


async def test_sessions_activities_and_states(mcp_client, make_key, api):
    async with mcp_client(key=await make_key()) as client:
        handle = (await client.call_tool("ask_human", {"title": "t", "message": "m",
                                                       "timeout_seconds": 0})).structured_content
        session_id = handle["session_id"]
        logged = await client.call_tool("log_activity", {"session_id": session_id, "type": "message",
                                                         "message": "looked at 3 charts"})
        assert logged.structured_content["source"] == "agent"
        system = await client.call_tool("log_activity", {"session_id": session_id, "type": "session_started"})
        assert "written by the server itself" in error_of(system)
        updated = await client.call_tool("update_session", {"session_id": session_id, "status": "completed",
                                                            "state": {"step": 3}})
        assert updated.structured_content["status"] == "completed"
        assert updated.structured_content["state"] == {"step": 3}
        assert "at least one of" in error_of(await client.call_tool("update_session", {"session_id": session_id}))
        session = (await api("GET", f"/v1/agent-sessions/{session_id}")).body
        assert session["status"] == "completed" and session["state"] == {"step": 3}

        missing = await client.call_tool("get_state", {"namespace": "bot", "key": "cursor"})
        assert error_of(missing) == "state bot/cursor not found" and missing.structured_content["status"] == 404
        first = (await client.call_tool("set_state", {"namespace": "bot", "key": "cursor",
                                                      "value": {"page": 1}})).structured_content
        assert first["version"] == 1
        again = await client.call_tool("set_state", {"namespace": "bot", "key": "cursor", "value": 2,
                                                     "only_new": True})
        assert again.structured_content["status"] == 412
        stale = await client.call_tool("set_state", {"namespace": "bot", "key": "cursor", "value": 2, "if_match": 7})
        assert error_of(stale) == "If-Match: state bot/cursor is not at version 7 (version 1)"
        second = await client.call_tool("set_state", {"namespace": "bot", "key": "cursor", "value": 2, "if_match": 1})
        assert second.structured_content["version"] == 2
        read = (await client.call_tool("get_state", {"namespace": "bot", "key": "cursor"})).structured_content
        assert read["value"] == 2
    assert (await api("GET", "/v1/states/bot/cursor")).body["value"] == 2


async def test_resources_sinks_and_sessions(mcp_client, make_key, api):
    sink = (await api("POST", "/v1/sinks", {"name": "findings"})).body
    for n in range(25):
        await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": f"item {n}"})
    other_workspace = (await api("POST", "/v1/workspaces", {"name": "elsewhere"})).body
    hidden = (await api("POST", "/v1/sinks", {"name": "hidden"},
                        headers={"X-OpenSink-Workspace": other_workspace["id"]})).body
    async with mcp_client(key=await make_key()) as client:
        handle = (await client.call_tool("ask_human", {"title": "t", "message": "m",
                                                       "timeout_seconds": 0})).structured_content
        listed = {r.uri: r for r in (await client.list_resources()).resources}
        assert {"opensink://sinks", "opensink://sessions", f"opensink://sinks/{sink['id']}",
                f"opensink://sessions/{handle['session_id']}"} <= set(listed)
        assert f"opensink://sinks/{hidden['id']}" not in listed
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert templates == {"opensink://sinks/{sink_id}", "opensink://sessions/{session_id}"}

        read = await client.read_resource(f"opensink://sinks/{sink['id']}")
        body = json.loads(read.contents[0].text)
        assert read.contents[0].mime_type == "application/json"
        assert body["sink"]["name"] == "findings" and len(body["items"]) == 20
        assert body["items"][0]["title"] == "item 24"  # newest first
        timeline = json.loads((await client.read_resource(f"opensink://sessions/{handle['session_id']}"))
                              .contents[0].text)
        assert timeline["session"]["status"] == "waiting_for_input"
        assert [a["type"] for a in timeline["timeline"]] == ["session_started", "input_request_created"]
        index = json.loads((await client.read_resource("opensink://sinks")).contents[0].text)
        assert [s["name"] for s in index["sinks"]] == ["findings"]
        with pytest.raises(mcp_error(), match=f"sink {hidden['id']} not found") as info:
            await client.read_resource(f"opensink://sinks/{hidden['id']}")
        assert info.value.code == -32002
        with pytest.raises(mcp_error(), match="no resource opensink://jobs"):
            await client.read_resource("opensink://jobs")


@pytest.mark.opensink(mcp_progress_seconds=0.2)
@store_independent
async def test_a_long_wait_reports_progress(mcp_client, make_key, api):
    """Clients that reset their request timeout on progress can wait as long as they asked."""
    heard: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        heard.append((progress, total, message))

    async with mcp_client(key=await make_key()) as client:
        call = asyncio.create_task(client.call_tool(
            "ask_human", {"title": "Ship it?", "message": "m", "timeout_seconds": 30}, progress_callback=on_progress))
        request = await pending_request(api)
        for _ in range(250):
            if len(heard) >= 2:
                break
            await asyncio.sleep(0.02)
        await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
                  {"response": {"approved": True}})
        result = await asyncio.wait_for(call, 10)
    assert result.structured_content["response"] == {"approved": True}
    assert len(heard) >= 2 and heard[0][1] == 30 and heard[0][0] < heard[1][0] < 30
    assert heard[0][2] == "waiting for a human to answer: Ship it?"


@store_independent
async def test_a_session_serves_only_the_credential_that_opened_it(api, make_key):
    """Raw Streamable HTTP (initialize handshake): another key presenting the session id gets 404."""
    owner, other = await make_key(), await make_key()
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    opened = await api("POST", "/opensink/mcp", {
        "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}},
        key=owner, headers=headers)
    assert opened.status == 200, opened.body
    session = opened.headers["Mcp-Session-Id"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    session_headers = {**headers, "Mcp-Session-Id": session, "Mcp-Protocol-Version": "2025-06-18"}
    await api("POST", "/opensink/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"}, key=owner,
              headers=session_headers)
    stolen = await api("POST", "/opensink/mcp", listing, key=other, headers=session_headers)
    assert stolen.status == 404
    mine = await api("POST", "/opensink/mcp", listing, key=owner, headers=session_headers)
    assert mine.status == 200 and "ask_human" in str(mine.body)
    ended = await api("DELETE", "/opensink/mcp", key=owner, headers=session_headers)
    assert ended.status == 200
    assert (await api("POST", "/opensink/mcp", listing, key=owner, headers=session_headers)).status == 404
    nobody = await api("POST", "/opensink/mcp", listing, auth=None, headers=headers)
    assert nobody.status == 401 and nobody.error.startswith("no credential")


@pytest.mark.opensink(mcp_enabled=False)
@store_independent
async def test_the_endpoint_can_be_switched_off(api, make_key):
    reply = await api("POST", "/opensink/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                      key=await make_key(), headers={"Accept": "application/json, text/event-stream"})
    assert reply.status == 404 and "switched off" in reply.error
    assert "mcp" not in (await api("GET", "/v1/discovery")).body["features"]


def test_a_server_starts_without_importing_the_mcp_sdk():
    """The SDK (about 0.6 s of CPU to import) comes in with the first MCP request, not with the extension."""
    import subprocess
    import sys

    code = ("import sys, jupyter_opensink.app; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@store_independent
async def test_a_stop_before_any_mcp_request_refuses_the_next_one(api, make_key, opensink_app):
    """Stopping a server whose endpoint was never asked has nothing to end; a request arriving during the
    stop is told to come back (503), as one arriving at a running endpoint's stop is."""
    await opensink_app.mcp.stop(1)
    assert opensink_app.mcp.session_count == 0
    reply = await api("POST", "/opensink/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                      key=await make_key(), headers={"Accept": "application/json, text/event-stream"})
    assert reply.status == 503 and "stopping" in reply.error


@store_independent
async def test_a_client_leaving_its_event_stream_frees_it(api, make_key, mcp_url):
    """A handshake session has one standalone event stream (GET); when its client goes away the SDK hears
    the disconnect, so the client can open it again (instead of 409 for a stream still counted open)."""
    import httpx

    key = await make_key()
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
               "Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=10) as http:
        opened = await http.post(mcp_url, headers=headers, json={
            "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
        assert opened.status_code == 200
        session = {**headers, "Accept": "text/event-stream", "Mcp-Session-Id": opened.headers["Mcp-Session-Id"],
                   "Mcp-Protocol-Version": "2025-06-18"}
        await http.post(mcp_url, headers={**headers, **{k: v for k, v in session.items() if k.startswith("Mcp")}},
                        json={"jsonrpc": "2.0", "method": "notifications/initialized"})
    for attempt in range(2):
        async with httpx.AsyncClient(timeout=10) as http:
            async with http.stream("GET", mcp_url, headers=session) as stream:
                assert stream.status_code == 200, (attempt, stream.status_code)
                assert stream.headers["content-type"].startswith("text/event-stream")
        await asyncio.sleep(0.3)  # the client is gone: the server hears it


async def test_another_workspaces_objects_are_not_found(mcp_client, make_key, api):
    """A key of another workspace: the same 404 messages as the HTTP API, never the object."""
    async with mcp_client(key=await make_key()) as client:
        handle = (await client.call_tool("ask_human", {"title": "t", "message": "m",
                                                       "timeout_seconds": 0})).structured_content
    team = (await api("POST", "/v1/workspaces", {"name": "team"})).body
    async with mcp_client(key=await make_key(workspace_id=team["id"])) as client:
        looked = await client.call_tool("get_input_request", {"request_id": handle["request_id"]})
        assert error_of(looked) == f"input request {handle['request_id']} not found"
        assert looked.structured_content["status"] == 404
        asked = await client.call_tool("ask_human", {"title": "t", "message": "m", "timeout_seconds": 0,
                                                     "session_id": handle["session_id"]})
        assert error_of(asked) == f"agent session {handle['session_id']} not found"
        with pytest.raises(mcp_error(), match=f"agent session {handle['session_id']} not found"):
            await client.read_resource(f"opensink://sessions/{handle['session_id']}")
        listed = {r.uri for r in (await client.list_resources()).resources}
        assert f"opensink://sessions/{handle['session_id']}" not in listed


async def test_an_agent_with_an_endpoint_is_not_taken_by_name(mcp_client, make_key, api, receiver):
    """Its endpoint would be called with an answer to a session it never started."""
    agent = (await api("POST", "/v1/agents", {"name": "Trader bot",
                                              "execution_endpoint": {"url": receiver.url()}})).body
    async with mcp_client(key=await make_key(), name="Trader bot") as client:
        refused = await client.call_tool("ask_human", {"title": "t", "message": "m", "timeout_seconds": 0})
        assert "has an execution endpoint" in error_of(refused) and agent["id"] in error_of(refused)
        explicit = await client.call_tool("ask_human", {"title": "t", "message": "m", "timeout_seconds": 0,
                                                        "agent_id": agent["id"]})
        assert explicit.structured_content["agent_id"] == agent["id"]
    assert len((await api("GET", "/v1/agents")).body["items"]) == 1


async def test_a_keys_session_is_not_the_jupyter_users(api, make_key):
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    opened = await api("POST", "/opensink/mcp", {
        "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}},
        key=await make_key(), headers=headers)
    session = {**headers, "Mcp-Session-Id": opened.headers["Mcp-Session-Id"], "Mcp-Protocol-Version": "2025-06-18"}
    as_user = await api("POST", "/opensink/mcp", {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                        headers=session)  # the Jupyter token, the admin of every workspace
    assert as_user.status == 404


async def test_first_questions_asked_at_once_make_one_agent(mcp_client, make_key, api):
    async with mcp_client(key=await make_key(), name="burst") as client:
        answers = await asyncio.gather(*[client.call_tool("ask_human", {
            "title": f"q{n}", "message": "m", "timeout_seconds": 0}) for n in range(5)])
    agents = (await api("GET", "/v1/agents")).body["items"]
    assert [a["name"] for a in agents] == ["burst"]
    assert {a.structured_content["agent_id"] for a in answers} == {agents[0]["id"]}
    assert len({a.structured_content["session_id"] for a in answers}) == 5


HANDSHAKE = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def open_session(http, mcp_url: str, key: str) -> dict[str, str]:
    """A raw initialize handshake with ``key``; returns the headers that use the session."""
    opened = await http.post(mcp_url, headers={**HANDSHAKE, "Authorization": f"Bearer {key}"}, json={
        "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
    assert opened.status_code == 200, opened.text
    session = {**HANDSHAKE, "Authorization": f"Bearer {key}", "Mcp-Session-Id": opened.headers["Mcp-Session-Id"],
               "Mcp-Protocol-Version": "2025-06-18"}
    done = await http.post(mcp_url, headers=session, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert done.status_code == 202, done.text
    return session


async def key_id_of(api, key: str) -> str:
    return next(k["id"] for k in (await api("GET", "/v1/api-keys")).body["items"] if key.startswith(k["prefix"]))


async def test_a_revoked_keys_sessions_streams_and_waiting_calls_end(api, make_key, mcp_url, opensink_app):
    """Revoking a key ends its MCP sessions, their event streams and a tool call waiting for a
    human, within a second or two; the key's session ids then answer 401 like any request of the key."""
    import httpx

    key, other = await make_key(), await make_key()
    async with httpx.AsyncClient(timeout=30) as http:
        session = await open_session(http, mcp_url, key)
        kept = await open_session(http, mcp_url, other)
        stream_ended, call_ended = asyncio.Event(), asyncio.Event()

        async def listen():
            async with http.stream("GET", mcp_url, headers={**session, "Accept": "text/event-stream"}) as events:
                assert events.status_code == 200
                async for _ in events.aiter_bytes():
                    pass
            stream_ended.set()

        async def ask():
            reply = await http.post(mcp_url, headers=session, json={
                "jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "ask_human", "arguments": {"title": "t", "message": "m", "timeout_seconds": 60}}})
            call_ended.set()
            return reply

        listening, asking = asyncio.ensure_future(listen()), asyncio.ensure_future(ask())
        await pending_request(api)
        assert opensink_app.mcp.session_count == 2
        assert (await api("DELETE", f"/v1/api-keys/{await key_id_of(api, key)}")).status == 200
        await asyncio.wait_for(asyncio.gather(stream_ended.wait(), call_ended.wait()), 2)
        await asyncio.gather(listening, asking)
        assert opensink_app.mcp.session_count == 1
        listing = {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}
        assert (await http.post(mcp_url, headers=session, json=listing)).status_code == 401
        assert (await http.post(mcp_url, headers=kept, json=listing)).status_code == 200  # another key's


async def test_an_expiring_keys_session_ends_at_expiry(api, mcp_url, opensink_app):
    import datetime

    import httpx

    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1.5)
    key = (await api("POST", "/v1/api-keys", {"name": "short", "expires_at": expires.isoformat()})).body["key"]
    async with httpx.AsyncClient(timeout=30) as http:
        session = await open_session(http, mcp_url, key)
        async with http.stream("GET", mcp_url, headers={**session, "Accept": "text/event-stream"}) as events:
            assert events.status_code == 200

            async def drain():
                async for _ in events.aiter_bytes():
                    pass

            await asyncio.wait_for(drain(), 4)
    assert datetime.datetime.now(datetime.timezone.utc) < expires + datetime.timedelta(seconds=2)
    assert opensink_app.mcp.session_count == 0


@pytest.mark.opensink(mcp_sessions_per_credential=3)
@store_independent
async def test_sessions_per_credential_are_bounded(api, make_key, mcp_url, opensink_app):
    """2,000 initialize calls kept 2,000 sessions. At the bound the least recently used idle
    session of that credential ends; when every one is busy, a new one is refused (429)."""
    import httpx

    key, other = await make_key(), await make_key()
    listing = {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}
    async with httpx.AsyncClient(timeout=30) as http:
        sessions = [await open_session(http, mcp_url, key) for _ in range(3)]
        await http.post(mcp_url, headers=sessions[0], json=listing)  # the first is now used after the second
        theirs = await open_session(http, mcp_url, other)
        for _ in range(5):
            sessions.append(await open_session(http, mcp_url, key))
        assert opensink_app.mcp.session_count == 4  # three of the key's, one of the other's
        live = [(await http.post(mcp_url, headers=s, json=listing)).status_code for s in sessions]
        assert live == [404] * 5 + [200] * 3
        assert (await http.post(mcp_url, headers=theirs, json=listing)).status_code == 200
        # Every one busy (an open event stream is a request in flight): the next is refused.
        async with contextlib.AsyncExitStack() as busy:
            for s in sessions[-3:]:
                stream = await busy.enter_async_context(
                    http.stream("GET", mcp_url, headers={**s, "Accept": "text/event-stream"}))
                assert stream.status_code == 200
            refused = await http.post(mcp_url, headers={**HANDSHAKE, "Authorization": f"Bearer {key}"}, json={
                "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "0"}}})
            assert refused.status_code == 429
            error = refused.json()["error"]
            assert "3 MCP sessions" in error and "mcp_sessions_per_credential" in error
        assert opensink_app.mcp.session_count == 4


@store_independent
async def test_nan_in_tool_arguments_is_refused(api, make_key, mcp_url):
    """The SDK reads NaN and Infinity from the JSON-RPC body; they were stored as null."""
    import httpx

    async with httpx.AsyncClient(timeout=30) as http:
        session = await open_session(http, mcp_url, await make_key())
        for value in (b"NaN", b"[Infinity]", b"{\"a\": -Infinity}"):
            reply = await http.post(mcp_url, headers=session, content=b'{"jsonrpc": "2.0", "id": 2, "method": '
                                    b'"tools/call", "params": {"name": "set_state", "arguments": {"namespace": '
                                    b'"ns", "key": "k", "value": ' + value + b'}}}')
            assert reply.status_code == 200 and "NaN and Infinity are not JSON numbers" in reply.text, reply.text
    assert (await api("GET", "/v1/states/ns/k")).status == 404


@pytest.mark.opensink(mcp_session_idle_seconds=0.5, mcp_sessions_per_credential=1)
@store_independent
async def test_a_session_ended_for_idleness_no_longer_counts(api, make_key, mcp_url, opensink_app):
    import httpx

    key = await make_key()
    listing = {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}
    async with httpx.AsyncClient(timeout=30) as http:
        first = await open_session(http, mcp_url, key)
        assert opensink_app.mcp.session_count == 1
        await asyncio.sleep(2)  # past the idle timeout (and its check)
        assert opensink_app.mcp.session_count == 0
        assert (await http.post(mcp_url, headers=first, json=listing)).status_code == 404  # the SDK ended it
        second = await open_session(http, mcp_url, key)
        assert (await http.post(mcp_url, headers=second, json=listing)).status_code == 200


async def test_sink_resources_withhold_the_ingest_secret_from_read_only_keys(mcp_client, api, make_key):
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    reader = await make_key(scopes=["sinks:read", "sink_items:read"])
    writer = await make_key(scopes=["sinks:read", "sink_items:read", "sinks:write"])
    for key, expected in ((reader, None), (writer, sink["secret"])):
        async with mcp_client(key=key) as client:
            index = json.loads((await client.read_resource("opensink://sinks")).contents[0].text)
            one = json.loads((await client.read_resource(f"opensink://sinks/{sink['id']}")).contents[0].text)
        assert index["sinks"][0]["secret"] == one["sink"]["secret"] == expected
