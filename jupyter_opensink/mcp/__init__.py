"""The Model Context Protocol surface: {base_url}opensink/mcp, its tools, its resources and the ASGI bridge.

It depends on the JSON API core (``api/``: the route table, the handler that authenticates, the
error mapping, paging and validation); the core never imports it. ``jupyter_opensink.surfaces``
adds its routes to the table.
"""

from .endpoint import McpEndpoint, routes

__all__ = ["McpEndpoint", "routes"]
