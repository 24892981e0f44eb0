"""The Model Context Protocol surface: {base_url}opensink/mcp, its tools, its resources and the ASGI bridge.

It depends on the JSON API core (``api/``: the route table, the handler that authenticates, the
error mapping, paging and validation); the core never imports it. ``jupyter_opensink.surfaces``
adds its routes to the table. Importing this package does not import the MCP SDK: ``routes`` and
``OnDemandEndpoint`` bring ``endpoint.McpEndpoint`` (and the SDK) in on the first MCP request.
"""

from .routes import OnDemandEndpoint, routes

__all__ = ["OnDemandEndpoint", "routes"]
