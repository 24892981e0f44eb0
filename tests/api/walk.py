"""Walking the route table: a concrete URL and a valid body for every route.

The suites that walk every route (security, reply conformance) share these; the ``objects``
fixture in tests/conftest.py makes the objects the URLs point at.
"""

from __future__ import annotations

from typing import Any

from jupyter_opensink.surfaces import ROUTES
from jupyter_opensink.api.routing import Route

#: Which object a path parameter names: ``id`` names one of the first path segment's objects.
PARAMETER_KINDS = {"sink_id": "sinks", "agent_id": "agents", "slug": "public-slug", "namespace": "states",
                   "path": "hook-path", "link_id": "approval-links"}
STATE_KEY = "walked-key"  # the key of the state the ``objects`` fixture writes in its namespace
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def name(route: Route) -> str:
    return f"{route.method} {route.path}"


def kind(route: Route, parameter: str) -> str:
    if parameter == "id" and "/links" in route.path:  # a request of its own: the walk resolves the other one
        return "link-requests"
    return PARAMETER_KINDS.get(parameter) or route.path.strip("/").split("/")[0]


def url(route: Route, ids: dict[str, str] | None = None) -> str:
    """The route's path below the server's base URL, parameters filled from ``ids`` ("unknown" otherwise)."""
    path = route.path
    for parameter in ("id", "sink_id", "agent_id", "slug", "namespace", "path", "link_id"):
        path = path.replace("{" + parameter + "}", (ids or {}).get(kind(route, parameter), "unknown"))
    return route.base + path.replace("{key}", STATE_KEY)


#: Query parameters that name an object, by the object's kind.
ID_FILTERS = {"agent_id": "agents", "sink_id": "sinks", "session_id": "agent-sessions", "job_id": "background-jobs",
              "workspace_id": "workspaces"}


def id_filters(route: Route, ids: dict[str, str]) -> dict[str, str]:
    """The route's query parameters that name an object, set to that object (valid, and not empty)."""
    names = route.query.model_fields if route.query is not None else {}
    return {p: ids[ID_FILTERS[p]] for p in names if p in ID_FILTERS}


def valid_body(route: Route, ids: dict[str, str]) -> Any:
    """A body ``route`` accepts (None for routes without one); every body route must have one here."""
    if route.body is None:
        return None
    bodies: dict[str, Any] = {
        "POST /api-keys": {"name": "walker", "scopes": ["sinks:read"]},
        "POST /workspaces": {"name": "walked"},
        "PATCH /workspaces/{id}": {"name": "renamed"},
        "POST /workspaces/{id}/rotate-secret": {},
        "POST /sinks": {"name": "walked"},
        "PATCH /sinks/{id}": {"description": "changed"},
        "POST /sinks/{sink_id}/items": {"title": "walked"},
        "POST /sink-items": {"sink_id": ids["sinks"], "title": "walked"},
        "POST /sink-items/many": {"items": [{"sink_id": ids["sinks"], "title": "walked"}]},
        "POST /sink-items/bulk": [{"sink_id": ids["sinks"], "title": "walked"}],
        "PATCH /sink-items/{id}": {"title": "changed"},
        "POST /agents": {"name": "walked"},
        "PATCH /agents/{id}": {"description": "changed"},
        "POST /agents/{id}/rotate-secret": {},
        "POST /agent-configurations": {"agent_id": ids["agents"], "value": {}},
        "POST /agent-sessions": {"agent_id": ids["agents"]},
        "PATCH /agent-sessions/{id}": {"metadata": {"walked": True}},
        "POST /agent-session-input-requests": {
            "session_id": ids["agent-sessions"], "agent_id": ids["agents"], "key": "k", "title": "t",
            "message": "m", "schema": {"type": "object"}},
        "POST /agent-session-input-requests/{id}/resolve": {"response": {}},
        "POST /agent-session-input-requests/{id}/links": {"expires_in": 3600, "note": "walked"},
        "POST /agent-session-activities": {"session_id": ids["agent-sessions"], "type": "message",
                                           "message": "walked"},
        "POST /background-jobs": {"name": "walked", "interval_minutes": 60, "url": "http://127.0.0.1:9/walked",
                                  "enabled": False},
        "PATCH /background-jobs/{id}": {"name": "changed"},
        "POST /background-jobs/{id}/trigger": {},
        "POST /background-jobs/{id}/rotate-secret": {},
        "PUT /states/{namespace}/{key}": {"value": {"walked": True}},
        "POST /webhooks": {"path": "walked-new", "action": {"type": "create_item", "sink_id": ids["sinks"],
                                                            "title": "/title"}},
        "PATCH /webhooks/{id}": {"secret": "a-secret-of-sixteen-or-more"},
        "POST /hooks/{path}": {"title": "walked"},
        "POST /approval-policies": {"name": "walked", "decision": "approve", "enabled": False},
        "PATCH /approval-policies/{id}": {"priority": 3},
        "POST /notebook-runs/{id}/cancel": {},
        "POST /notification-channels": {"name": "walked", "url": "json://127.0.0.1:9/walked"},
        "PATCH /notification-channels/{id}": {"name": "changed"},
        "POST /notification-channels/{id}/test": {},
    }
    return bodies[name(route)]


def routes(*, stream: bool = False) -> list[Route]:
    """Every route of the table (without Server-Sent Events ones unless asked)."""
    return [r for r in ROUTES if stream or not r.stream]
