"""The MCP endpoint in a real server process: an MCP client configured as docs/users/mcp.md says, and a stop
while tool calls are still waiting for a human."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .servers import start_server


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_a_stop_ends_waiting_tool_calls_cleanly(tmp_path, mode):
    server = start_server(tmp_path / "work", tmp_path / "db")
    try:
        with server.client() as admin:
            key = admin.post("/api-keys", json={"name": "mcp"}).json()["key"]

        async def scenario() -> tuple[float, dict]:
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
                client = Client(streamable_http_client(f"{server.url}/mcp", http_client=http), mode=mode)
                await client.__aenter__()
                answered = await client.call_tool("ask_human", {"title": "Warm-up", "message": "m",
                                                                "timeout_seconds": 0})
                assert answered.structured_content["status"] == "pending"
                call = asyncio.create_task(client.call_tool("ask_human", {
                    "title": "Still there?", "message": "m", "timeout_seconds": 300}))
                await asyncio.sleep(0.5)
                assert not call.done()
                started = time.monotonic()
                server.proc.terminate()
                handle = (await asyncio.wait_for(call, 30)).structured_content
                waited = time.monotonic() - started
                # the server is gone now: the client's goodbye (DELETE of its session) may fail, which is not ours
                with contextlib.suppress(Exception):
                    await client.__aexit__(None, None, None)
                return waited, handle

        waited, handle = asyncio.run(scenario())
        assert waited < 5, waited  # the stop did not wait for the call's own timeout, nor cut it off
        assert handle["status"] == "pending" and handle["next"] == "poll" and handle["title"] == "Still there?"
        assert server.proc.wait(timeout=30) == 0, server.log()
        assert "Traceback" not in server.log(), server.log()
        with_pending = [line for line in server.log().splitlines() if "Task was destroyed" in line]
        assert not with_pending, with_pending
    finally:
        server.stop()
