from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .common import Model, Name, Text, Time, Url, patch_of

HeaderName = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]
# No CR, LF or NUL: a header value must not be able to start another header or request.
HeaderValue = Annotated[str, StringConstraints(max_length=8192, pattern=r"^[^\r\n\x00]*$")]


class ExecutionEndpoint(Model):
    url: Url
    method: Literal["POST", "GET", "PUT", "DELETE"] = "POST"
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict)
    body: dict[str, Any] = Field(default_factory=dict)


class AgentCreate(Model):
    name: Name
    description: Text | None = None
    execution_endpoint: ExecutionEndpoint | None = None


AgentUpdate = patch_of(AgentCreate, "AgentUpdate", config_id=(str, None))


class ConfigurationCreate(Model):
    agent_id: str
    variant: Name = "default"
    schema_: dict[str, Any] = Field(default=None, alias="schema")  # type: ignore[assignment]
    value: Any = Field(default_factory=dict)


SessionStatus = Literal["running", "waiting_for_input", "processing_input", "completed", "failed"]


class SessionCreate(Model):
    agent_id: str
    status: SessionStatus = "running"
    state: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    error_message: Text | None = None


SessionUpdate = patch_of(SessionCreate, "SessionUpdate", drop=("agent_id",))


class InputRequestCreate(Model):
    session_id: str
    agent_id: str
    key: Name
    title: Name
    message: Text
    schema_: dict[str, Any] = Field(alias="schema")
    expires_at: Time | None = None


class Resolve(Model):
    response: dict[str, Any]


ActivityType = Literal["session_started", "session_ended", "message", "input_request_created",
                       "input_request_resolved", "sink_item_created", "state_updated"]
#: Types the server writes itself; callers write the others.
SYSTEM_ACTIVITY_TYPES = ("session_started", "session_ended", "input_request_created", "input_request_resolved")


class ActivityLink(Model):
    href: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    text: Name


class ActivityCreate(Model):
    session_id: str
    agent_id: str | None = None
    type: ActivityType
    source: Literal["agent", "user"] | None = None
    message: Text | None = None
    payload: Any = None
    related_entity_id: str | None = None
    links: list[ActivityLink] = Field(default_factory=list, max_length=50)
