"""The HTTP layer: tornado handlers that parse, authorize and render."""

from __future__ import annotations

from . import (agents, events, jobs, keys, links, mcp_endpoint, meta, openapi, sinks, states, webhooks,
               workspaces)
from .approval_page import approval_handlers
from .docs import docs_handlers
from .handler import ApiContext, NotFoundHandler, OpenSinkHandler
from .routing import API_ROOT, Route, group_by_path

ROUTES: list[Route] = [*keys.ROUTES, *workspaces.ROUTES, *sinks.ROUTES, *agents.ROUTES, *links.ROUTES,
                       *jobs.ROUTES, *states.ROUTES, *webhooks.ROUTES, *events.ROUTES, *meta.ROUTES, *openapi.ROUTES,
                       *mcp_endpoint.ROUTES]


def build_handlers(context: ApiContext, routes: list[Route] = ROUTES) -> list[tuple]:
    """Tornado handler specs (without base_url: the extension app prepends it)."""
    specs: list[tuple] = [
        (pattern + "/?", OpenSinkHandler, {"context": context, "routes": methods})
        # literal paths first, so /sink-items/many is never taken for an id
        for pattern, methods in sorted(group_by_path(routes).items(), key=lambda kv: "(?P<" in kv[0])
    ]
    specs.append((API_ROOT + "(?:/.*)?", NotFoundHandler, {"context": context, "routes": {}}))
    return specs + docs_handlers() + approval_handlers(context)


__all__ = ["ROUTES", "ApiContext", "build_handlers"]
