"""The MCP endpoint, driven by the official MCP client library against the real server."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


@pytest.fixture
def mcp_client(jp_http_port, jp_base_url, jp_serverapp):
    """``async with mcp_client(key=..., mode=...) as client``: an MCP client on the server's /opensink/mcp."""
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}opensink/mcp"

    @contextlib.asynccontextmanager
    async def connect(*, key: str | None = None, mode: str = "auto", name: str = "test-agent"):
        token = f"Bearer {key}" if key else f"token {jp_serverapp.identity_provider.token}"
        async with httpx2.AsyncClient(headers={"Authorization": token}, timeout=30) as http:
            from mcp_types import Implementation
            async with Client(streamable_http_client(url, http_client=http), mode=mode,
                              client_info=Implementation(name=name, version="1")) as client:
                yield client

    return connect


async def test_smoke(mcp_client, make_key):
    key = await make_key()
    async with mcp_client(key=key) as client:
        tools = await client.list_tools()
        print([t.name for t in tools.tools])
        result = await client.call_tool("search_items", {})
        print(result)
