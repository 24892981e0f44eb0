from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .common import Model, Name, Query, Stored, Text, Time, Url, patch_of
from .notebooks import NotebookTarget

HeaderName = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]
# Visible ASCII, space and tab only (RFC 9110 field values): no CR, LF or NUL that could start another
# header or request, and no other control or non-ASCII character the call could not be sent with.
HeaderValue = Annotated[str, StringConstraints(max_length=8192, pattern=r"^[\t\x20-\x7e]*$")]


class ExecutionEndpoint(Model):
    url: Url
    method: Literal["POST", "GET", "PUT", "DELETE"] = "POST"
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict)
    body: dict[str, Any] = Field(default_factory=dict)


class AgentCreate(Model):
    name: Name
    description: Text | None = None
    execution_endpoint: ExecutionEndpoint | None = None
    execution_notebook: NotebookTarget | None = Field(
        default=None, description="Instead of an endpoint: each callback runs this notebook with session_id, "
                                  "request_id and answer as parameters (setting it needs the Jupyter user).")
    kernel_id: str | None = Field(
        default=None, max_length=255,
        description="A notebook agent's kernel (one this server runs): while it runs the agent is online; when "
                    "it stops or restarts the agent goes offline and answers wait for it to serve again.")


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


#: The display types a request's ``context`` may carry (those of a notebook's outputs that every surface
#: can show safely): anything else is refused, naming the type.
CONTEXT_TYPES = ("text/plain", "text/markdown", "text/html", "image/png", "image/jpeg", "image/svg+xml",
                 "application/json", "application/vnd.vegalite.v5+json")
MAX_CONTEXT_ITEMS = 20
MAX_CONTEXT_BYTES = 2 * 1024 * 1024
Decision = Literal["approve", "reject", "respond"]
OnExpiry = Literal["expire", "reject"]
MAX_FOLLOW_UP_SECONDS = 365 * 86400
Comment = Annotated[str, StringConstraints(max_length=4000)]


class ContextItem(Model):
    """One piece of evidence shown beside the question: a notebook ``display_data`` output's shape."""

    title: Name | None = None
    data: dict[str, Any] = Field(description="MIME type → value: " + ", ".join(CONTEXT_TYPES)
                                             + " (images base64).")


class InputRequestCreate(Model):
    session_id: str
    agent_id: str
    key: Name
    title: Name
    message: Text
    schema_: dict[str, Any] = Field(alias="schema")
    expires_at: Time | None = None
    defaults: dict[str, Any] | None = Field(
        default=None, description="What the agent proposes; it must match the schema, and every form starts "
                                  "from it.")
    context: list[ContextItem] | None = Field(
        default=None, max_length=MAX_CONTEXT_ITEMS,
        description=f"Evidence shown beside the question (at most {MAX_CONTEXT_ITEMS} items, 2 MiB in all).")
    decisions: list[Decision] | None = Field(
        default=None, min_length=1, max_length=3,
        description="Which answers the person may give; absent, one submit answers with the form.")
    remind_every_seconds: int | None = Field(
        default=None, ge=1, le=MAX_FOLLOW_UP_SECONDS,
        description="While pending, remind the notification channels told of it every this many seconds "
                    "(at least 60, or the server's notification_min_remind_seconds).")
    escalate_after_seconds: int | None = Field(
        default=None, ge=1, le=MAX_FOLLOW_UP_SECONDS,
        description="If still pending after this many seconds, tell the escalate_to channels (once).")
    escalate_to: list[str] | None = Field(default=None, min_length=1, max_length=50,
                                          description="Notification channel ids an escalation goes to.")
    on_expiry: OnExpiry = Field(
        default="expire", description="At expires_at: expire (the session fails) or reject (the request is "
                                      "answered as a rejection, comment \"expired\", and the agent is called back).")


class Remember(Model):
    seconds: int = Field(ge=1, le=365 * 24 * 3600, description="How long to keep approving the same (at most a "
                                                               "year).")


class Resolve(Model):
    response: dict[str, Any] | None = Field(
        default=None, description="The answer; required without a decision and with approve.")
    decision: Decision | None = None
    comment: Comment | None = Field(default=None, description="Why (a rejection's reason, a reply's words).")
    remember: Remember | None = Field(
        default=None, description="Approve and remember (the Jupyter user only; 403 for API keys): also creates "
                                  "an approval policy approving this agent's requests of this key whose defaults "
                                  "equal this response, for this long.")


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


# -- replies --------------------------------------------------------------------
RequestStatus = Literal["pending", "resolved", "expired"]
ActivitySource = Literal["system", "agent", "user"]
DeliveryTrigger = Literal["input_request", "job", "webhook"]  # what made the call: an answer, a job run, a run_agent webhook


class Agent(Stored):
    """An agent; its status is derived from its newest session."""

    workspace_id: str
    name: str
    description: str | None
    config_id: str = Field(description="The active configuration.")
    status: SessionStatus | None = Field(
        description="The status of the agent's newest session; null without one.")
    execution_endpoint: ExecutionEndpoint | None
    execution_notebook: dict[str, Any] | None = Field(
        default=None, description="The notebook each callback runs: {path, parameters, kernel_name, timeout_seconds}.")
    kernel_id: str | None = Field(default=None, description="The kernel serving this notebook agent, if any.")
    offline: bool = Field(default=False, description="A notebook agent whose kernel stopped or restarted: "
                                                     "answers to it wait until it serves again.")


class AgentWithSecret(Agent):
    """An agent as created or after its secret is rotated: the only replies that show its secret."""

    execution_secret: str = Field(
        description="The agent's own secret (whsec_...), shown this once: callbacks to the agent carry it as "
                    "X-OpenSink-Secret and are signed with it (Standard Webhooks), unless the workspace's "
                    "callback_secret is \"workspace\".")


class AgentConfiguration(Stored):
    """An immutable configuration version of an agent."""

    agent_id: str
    workspace_id: str
    variant: str
    version: int = Field(description="Per agent, +1 on every new configuration.")
    variant_version: int = Field(description="+1 within the variant.")
    schema_version: int = Field(description="+1 whenever the schema changes within the variant.")
    schema_: dict[str, Any] = Field(alias="schema", description="JSON Schema that value validates against.")
    value: Any


class AgentSession(Stored):
    """One run of an agent."""

    agent_id: str
    workspace_id: str
    status: SessionStatus
    state: dict[str, Any]
    metadata: dict[str, Any]
    error_message: str | None


class InputRequest(Stored):
    """A question to a human that a session waits on."""

    session_id: str
    agent_id: str
    workspace_id: str
    key: str
    title: str
    message: str
    schema_: dict[str, Any] = Field(alias="schema",
                                    description="JSON Schema (an object schema) of the response.")
    response: dict[str, Any] | None = Field(description="The answer; null until resolved.")
    status: RequestStatus
    expires_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None = Field(
        default=None, description="Who answered: \"user:<name>\" (the Jupyter user), \"key:<key id>\", "
                                  "\"link:<approval link id>\", \"policy:<approval policy id>\" or \"system\" "
                                  "(on_expiry: reject); null until "
                                  "resolved.")
    resolved_by_name: str | None = Field(
        default=None, description="Who answered, as a person reads it: the Jupyter user's name, the key's "
                                  "name, the name typed on an approval link's page.")
    defaults: dict[str, Any] | None = None
    context: list[ContextItem] | None = None
    decisions: list[Decision] | None = None
    decision: Decision | None = Field(default=None, description="The person's decision; null for a plain "
                                                                "answer (a request without decisions).")
    comment: str | None = None
    changes: list[dict[str, Any]] | None = Field(
        default=None, description="RFC 6902 JSON Patch from defaults to response ([] when approved as "
                                  "proposed; null without defaults or response).")
    remind_every_seconds: int | None = None
    escalate_after_seconds: int | None = None
    escalate_to: list[str] | None = None
    on_expiry: OnExpiry = "expire"


class Activity(Stored):
    """One entry of a session's timeline."""

    session_id: str
    agent_id: str
    workspace_id: str
    type: ActivityType
    source: ActivitySource
    message: str | None
    payload: Any
    related_entity_id: str | None
    links: list[ActivityLink]


class ExecutionDelivery(Stored):
    """One call made to an agent's execution endpoint, whatever its outcome."""

    workspace_id: str
    agent_id: str
    session_id: str | None = Field(description="Null for a background job's run of the agent.")
    request_id: str | None
    trigger: DeliveryTrigger
    url: str
    method: str
    status_code: int | None = Field(description="The endpoint's HTTP status; null when it was not reached.")
    error: str | None = Field(description="Why the call failed; null on a 2xx answer.")
    duration_ms: float


# -- query parameters ---------------------------------------------------------
class ConfigurationFilters(Query):
    agent_id: str | None = Field(None, description="Only this agent's configurations.")
    variant: str | None = Field(None, description="Only this variant's versions.")


class VariantsQuery(Query):
    agent_id: Annotated[str, StringConstraints(min_length=1)] = Field(description="The agent.")


class SessionFilters(Query):
    agent_id: str | None = Field(None, description="Only this agent's sessions.")
    status: SessionStatus | None = Field(None, description="Only sessions with this status.")


class RequestFilters(Query):
    session_id: str | None = Field(None, description="Only this session's requests.")
    agent_id: str | None = Field(None, description="Only this agent's requests.")
    status: RequestStatus | None = Field(None, description="Only requests with this status.")


class DeliveryFilters(Query):
    session_id: str | None = Field(None, description="Only calls made for this session.")
    agent_id: str | None = Field(None, description="Only calls made to this agent.")


class ActivityFilters(Query):
    session_id: str | None = Field(None, description="Only this session's activities.")
    agent_id: str | None = Field(None, description="Only this agent's activities.")
    type: ActivityType | None = Field(None, description="Only activities of this type.")
    source: ActivitySource | None = Field(None, description="Only activities from this source.")
