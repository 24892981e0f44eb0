"""The MCP resources: sinks with their newest items and sessions with their timelines, by URI.

Each is rendered through the same reply models as the HTTP API, and read
only with the scopes the HTTP API would ask for the same objects.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types

from ..errors import NotFound
from ..models.agents import Activity, AgentSession
from ..models.common import shaper
from ..models.sinks import Sink, SinkItem
from ..services import Services
from ..services.access import Principal

SCHEME = "opensink://"
NEWEST_ITEMS = 20  # items shown with a sink
LISTED = 50  # sinks and sessions each named in resources/list
TIMELINE = 500  # activities shown with a session
JSON = "application/json"

_item = shaper(SinkItem)
_session, _activity = shaper(AgentSession), shaper(Activity)


@dataclass(frozen=True)
class ResourceKind:
    template: str  # RFC 6570 level 1, e.g. "opensink://sinks/{sink_id}"
    name: str
    description: str
    scopes: tuple[str, ...]
    read: Callable[[Services, Principal, dict[str, str]], Awaitable[Any]]

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template)) + r"\Z")

    def readable_by(self, principal: Principal) -> bool:
        return all(principal.has(scope) for scope in self.scopes)


async def _sinks(services: Services, principal: Principal, _: dict[str, str]) -> Any:
    page = await services.sinks.list(principal.workspace_id, limit=500, after=None, order="desc")
    sink = shaper(Sink, principal.withheld)  # the ingest secret only for callers holding sinks:write
    return {"sinks": [sink(s) for s in page.items]}


async def _sink_with_items(services: Services, principal: Principal, params: dict[str, str]) -> Any:
    sink = await services.sinks.get(principal.workspace_id, params["sink_id"])
    items = await services.sink_items.list(principal.workspace_id, sink_id=sink["id"], type=None, q=None,
                                           occurred_after=None, occurred_before=None, limit=NEWEST_ITEMS,
                                           after=None, order="desc")
    return {"sink": shaper(Sink, principal.withheld)(sink), "items": [_item(i) for i in items.items]}


async def _sessions(services: Services, principal: Principal, _: dict[str, str]) -> Any:
    page = await services.sessions.list(principal.workspace_id, limit=LISTED, after=None, order="desc")
    return {"sessions": [_session(s) for s in page.items]}


async def _session_with_timeline(services: Services, principal: Principal, params: dict[str, str]) -> Any:
    session = await services.sessions.get(principal.workspace_id, params["session_id"])
    timeline = await services.activities.list(principal.workspace_id, {"session_id": session["id"]},
                                              limit=TIMELINE, after=None, order="asc")
    return {"session": _session(session), "timeline": [_activity(a) for a in timeline.items]}


SINKS = ResourceKind(f"{SCHEME}sinks", "sinks", "Every sink of the workspace.", ("sinks:read",), _sinks)
SINK = ResourceKind(f"{SCHEME}sinks/{{sink_id}}", "sink",
                    f"A sink and its {NEWEST_ITEMS} newest items.", ("sinks:read", "sink_items:read"),
                    _sink_with_items)
SESSIONS = ResourceKind(f"{SCHEME}sessions", "sessions", f"The {LISTED} newest agent sessions.",
                        ("agent_sessions:read",), _sessions)
SESSION = ResourceKind(f"{SCHEME}sessions/{{session_id}}", "session",
                       "An agent session and its activity timeline, oldest first.",
                       ("agent_sessions:read", "agent_session_activities:read"), _session_with_timeline)
KINDS = [SINKS, SINK, SESSIONS, SESSION]


async def list_resources(services: Services, principal: Principal) -> list[types.Resource]:
    """The two indexes and the newest sinks and sessions themselves, as far as the caller may read them."""
    found: list[types.Resource] = []
    for index in (SINKS, SESSIONS):
        if index.readable_by(principal):
            found.append(types.Resource(uri=index.template, name=index.name, description=index.description,
                                        mime_type=JSON))
    if SINK.readable_by(principal):
        for sink in (await services.sinks.list(principal.workspace_id, limit=LISTED, after=None,
                                               order="desc")).items:
            found.append(types.Resource(uri=f"{SCHEME}sinks/{sink['id']}", name=f"sink {sink['name']}",
                                        description=SINK.description, mime_type=JSON))
    if SESSION.readable_by(principal):
        for session in (await services.sessions.list(principal.workspace_id, limit=LISTED, after=None,
                                                     order="desc")).items:
            found.append(types.Resource(uri=f"{SCHEME}sessions/{session['id']}",
                                        name=f"session {session['id']} ({session['status']})",
                                        description=SESSION.description, mime_type=JSON))
    return found


def templates() -> list[types.ResourceTemplate]:
    return [types.ResourceTemplate(uri_template=kind.template, name=kind.name, description=kind.description,
                                   mime_type=JSON) for kind in (SINK, SESSION)]


async def read_resource(services: Services, principal: Principal, uri: str) -> Any:
    """The resource's JSON value; NotFound for a URI that names nothing (or another workspace's object)."""
    for kind in KINDS:
        match = kind.pattern.match(uri)
        if match:
            for scope in kind.scopes:
                principal.require(scope)
            return await kind.read(services, principal, match.groupdict())
    raise NotFound(f"no resource {uri}: read {SCHEME}sinks, {SCHEME}sinks/{{sink_id}}, {SCHEME}sessions or "
                   f"{SCHEME}sessions/{{session_id}}")
