"""The MCP endpoint's routes and the handle the server keeps on it, without the MCP SDK.

Importing the SDK (its protocol types are pydantic models of two protocol eras) costs about 0.6 s of
CPU, a quarter of a Jupyter server's start with this extension, and most servers are never asked
over MCP. So the server holds an ``OnDemandEndpoint`` from the start and the SDK-backed
``McpEndpoint`` (``endpoint.py``) is made when the first MCP request arrives.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, Unavailable
from ..api.call import Call
from ..api.routing import ANY, Route, Stream
from ..services import Services

if TYPE_CHECKING:
    from .endpoint import McpEndpoint

STOPPING = "the server is stopping: connect again once it is back"


class OnDemandEndpoint:
    """The MCP endpoint, made with ``options`` (``McpEndpoint``'s keywords) on its first request.

    That request waits for the SDK's import, which runs in a thread so the loop answers other requests
    meanwhile; requests arriving during it wait for the same import. A stop before the first request has
    nothing to end.
    """

    def __init__(self, services: Services, **options: Any):
        self._services = services
        self._options = options
        self._endpoint: McpEndpoint | None = None
        self._import: asyncio.Future | None = None
        self.stopping = False

    @property
    def session_count(self) -> int:
        return self._endpoint.session_count if self._endpoint is not None else 0

    async def endpoint(self) -> McpEndpoint:
        if self._endpoint is None:
            if self._import is None:
                self._import = asyncio.ensure_future(
                    asyncio.to_thread(importlib.import_module, f"{__package__}.endpoint"))
            module = await asyncio.shield(self._import)
            if self.stopping:
                raise Unavailable(STOPPING)
            if self._endpoint is None:
                self._endpoint = module.McpEndpoint(self._services, **self._options)
        return self._endpoint

    async def serve(self, call: Call) -> None:
        if self.stopping:
            raise Unavailable(STOPPING)
        endpoint = await self.endpoint()
        await endpoint.serve(call)  # it counts the request before its first wait, so a stop now waits for it

    async def stop(self, timeout: float = 5.0) -> None:
        """Tool calls waiting for a human answer get a pending handle, then every MCP session ends."""
        self.stopping = True
        if self._import is not None and not self._import.done():
            await asyncio.wait([self._import], timeout=timeout)
        if self._endpoint is not None:
            await self._endpoint.stop(timeout)


SUMMARY = ("Model Context Protocol server (Streamable HTTP, JSON-RPC): POST messages, GET the server's event "
           "stream, DELETE to end a session. Tools act with the calling credential's scopes.")
MEDIA = ("application/json", "text/event-stream")


def routes(endpoint: OnDemandEndpoint | None) -> list[Route]:
    """The MCP routes, answered by ``endpoint``; with None (switched off) each answers 404 saying so.

    They are routes of the JSON API's table (same authentication, Host check, body limit and request
    log), added to it by whoever wires the server (``jupyter_opensink.surfaces``).
    """

    async def serve_mcp(call: Call) -> None:
        if endpoint is None:
            raise NotFound("the MCP endpoint is switched off on this server (OpenSinkApp.mcp_enabled)")
        await endpoint.serve(call)

    return [Route(method, "/mcp", serve_mcp, ANY, SUMMARY, Stream(MEDIA), tag="mcp", base="/opensink")
            for method in ("POST", "GET", "DELETE")]
