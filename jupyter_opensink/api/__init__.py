"""The HTTP layer: tornado handlers that parse, authorize and render."""

from __future__ import annotations

from . import keys, workspaces
from .handler import ApiContext, NotFoundHandler, OpenSinkHandler
from .routing import API_ROOT, Route, group_by_path

ROUTES: list[Route] = [*keys.ROUTES, *workspaces.ROUTES]


def build_handlers(context: ApiContext, routes: list[Route] = ROUTES) -> list[tuple]:
    """Tornado handler specs (without base_url: the extension app prepends it)."""
    specs: list[tuple] = [
        (pattern + "/?", OpenSinkHandler, {"context": context, "routes": methods})
        for pattern, methods in group_by_path(routes).items()
    ]
    specs.append((API_ROOT + "(?:/.*)?", NotFoundHandler, {"context": context, "routes": {}}))
    return specs


__all__ = ["ROUTES", "ApiContext", "build_handlers"]
