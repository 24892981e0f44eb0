"""Request and reply models of states, discovery and the request log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from .common import Model, Query, QueryTime, Resource, Stored, Time


class StatePut(Model):
    value: Any = Field(description="Any JSON value.")
    expires_at: Time | None = Field(None, description="After this the state is gone (and purged).")


class State(Stored):
    """One value of an agent's namespaced memory."""

    workspace_id: str
    namespace: str
    key: str
    value: Any
    version: int = Field(description="1 when created, +1 per write; send it as If-Match to write conditionally.")
    expires_at: datetime | None


class Access(Resource):
    read: bool
    write: bool


class DiscoveryWorkspace(Resource):
    id: str
    name: str
    is_default: bool


class Caller(Resource):
    type: str = Field(description="api_key, jupyter_user or sink_secret.")
    key_id: str | None = None
    user: str | None = None
    sink_id: str | None = None
    scopes: list[str]


class ServerInfo(Resource):
    name: str
    version: str


class Discovery(Resource):
    """What the calling credential can see and do."""

    workspace: DiscoveryWorkspace
    caller: Caller
    scopes: list[str] = Field(description="The caller's scopes (all:all for the Jupyter user).")
    version: str = Field(description="The server's version.")
    access: dict[str, Access] = Field(description="Per scope resource.")
    counts: dict[str, int] = Field(description="Objects per resource the caller may read.")
    server: ServerInfo
    features: list[str]


class RequestLogEntry(Stored):
    """One API request: no bodies, query strings, credentials or secrets."""

    at: datetime
    method: str
    path: str
    status: int
    duration_ms: float
    key_id: str | None
    user: str | None
    workspace_id: str | None
    request_bytes: int
    response_bytes: int | None


class StateFilters(Query):
    prefix: str | None = Field(None, description="Only keys that start with this.")


class RequestLogFilters(Query):
    status: str | None = Field(None, description="Only requests answered with this HTTP status, e.g. 404.")
    path: str | None = Field(None, description="Only requests whose path starts with this.")
    key_id: str | None = Field(None, description="Only requests made with this API key.")
    since: QueryTime | None = Field(None, description="Only requests made at or after this time.")


class EventsQuery(Query):
    types: str | None = Field(None, description="Only these event types, comma-separated "
                                                "(e.g. item.created).")
    workspaces: str | None = Field(None, description="all: every workspace's events (the Jupyter user only).")
    last_event_id: str | None = Field(None, description="Resume after this event (as the Last-Event-ID "
                                                        "header).")
