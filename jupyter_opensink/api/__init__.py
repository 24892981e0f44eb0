"""The JSON API core: tornado handlers that parse, authorize and render, behind one route table.

Other surfaces (``mcp/``, ``approval/``) build on this package; it imports neither of them.
``jupyter_opensink.surfaces`` puts them together.
"""

from __future__ import annotations

from . import (agents, events, jobs, keys, links, meta, notebooks, notifications, openapi, policies, sinks, states,
               webhooks, workspaces)
from .docs import docs_handlers
from .handler import ApiContext, NotFoundHandler, OpenSinkHandler
from .routing import API_ROOT, Route, group_by_path

#: The JSON API's own routes (other surfaces add theirs to ``ApiContext.routes``).
ROUTES: list[Route] = [*keys.ROUTES, *workspaces.ROUTES, *sinks.ROUTES, *agents.ROUTES, *links.ROUTES,
                       *jobs.ROUTES, *notebooks.ROUTES, *states.ROUTES, *webhooks.ROUTES, *events.ROUTES, *meta.ROUTES,
                       *openapi.ROUTES, *policies.ROUTES, *notifications.ROUTES]


def build_handlers(context: ApiContext) -> list[tuple]:
    """Tornado handler specs for ``context.routes`` and the docs page (without base_url: the extension
    app prepends it)."""
    specs: list[tuple] = [
        (pattern + "/?", OpenSinkHandler, {"context": context, "routes": methods})
        # literal paths first, so /sink-items/many is never taken for an id
        for pattern, methods in sorted(group_by_path(context.routes).items(), key=lambda kv: "(?P<" in kv[0])
    ]
    specs.append((API_ROOT + "(?:/.*)?", NotFoundHandler, {"context": context, "routes": {}}))
    return specs + docs_handlers()


__all__ = ["ROUTES", "ApiContext", "build_handlers"]
