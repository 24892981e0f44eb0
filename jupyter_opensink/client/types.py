"""The replies' shapes as TypedDicts: what each client method returns.

Generated from the pydantic reply models in jupyter_opensink/models by
``python -m jupyter_opensink.client.typegen``: do not edit by hand. At run time
the results are plain dicts of parsed JSON, so times are ISO-8601 strings.
"""

from __future__ import annotations

import sys
from typing import Any, Generic, Literal, TypeVar

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # NotRequired, and a generic TypedDict (Page), need typing_extensions before Python 3.11
    from typing_extensions import NotRequired, TypedDict

ItemT = TypeVar("ItemT")


class Page(TypedDict, Generic[ItemT]):
    """One page of a listing: ``items``, newest first unless $order=asc, and the ``trail`` to the next."""
    items: list[ItemT]
    #: Pass back as $trail for the next page; null on the last page.
    trail: str | None


class Stored(TypedDict):
    """What the store maintains on every object."""
    #: UUIDv7: time-ordered.
    id: str
    created_at: str
    updated_at: str


class ExecutionEndpoint(TypedDict):
    url: str
    method: NotRequired[Literal["POST", "GET", "PUT", "DELETE"]]
    headers: NotRequired[dict[str, str]]
    body: NotRequired[dict[str, Any]]


class Agent(Stored):
    """An agent; its status is derived from its newest session."""
    workspace_id: str
    name: str
    description: str | None
    #: The active configuration.
    config_id: str
    #: The status of the agent's newest session; null without one.
    status: Literal["running", "waiting_for_input", "processing_input", "completed", "failed"] | None
    execution_endpoint: ExecutionEndpoint | None
    #: The notebook each callback runs: {path, parameters, kernel_name, timeout_seconds}.
    execution_notebook: NotRequired[dict[str, Any] | None]
    #: The kernel serving this notebook agent, if any.
    kernel_id: NotRequired[str | None]
    #: A notebook agent whose kernel stopped or restarted: answers to it wait until it serves again.
    offline: NotRequired[bool]


class AgentWithSecret(Agent):
    """An agent as created or after its secret is rotated: the only replies that show its secret."""
    #: The agent's own secret (whsec_...), shown this once: callbacks to the agent carry it as
    #: X-OpenSink-Secret and are signed with it (Standard Webhooks), unless the workspace's callback_secret is
    #: "workspace".
    execution_secret: str


class AgentConfiguration(Stored):
    """An immutable configuration version of an agent."""
    agent_id: str
    workspace_id: str
    variant: str
    #: Per agent, +1 on every new configuration.
    version: int
    #: +1 within the variant.
    variant_version: int
    #: +1 whenever the schema changes within the variant.
    schema_version: int
    #: JSON Schema that value validates against.
    schema: dict[str, Any]
    value: Any


class AgentSession(Stored):
    """One run of an agent."""
    agent_id: str
    workspace_id: str
    status: Literal["running", "waiting_for_input", "processing_input", "completed", "failed"]
    state: dict[str, Any]
    metadata: dict[str, Any]
    error_message: str | None


class ContextItem(TypedDict):
    """One piece of evidence shown beside the question: a notebook ``display_data`` output's shape."""
    title: NotRequired[str | None]
    #: MIME type → value: text/plain, text/markdown, text/html, image/png, image/jpeg, image/svg+xml,
    #: application/json, application/vnd.vegalite.v5+json (images base64).
    data: dict[str, Any]


class InputRequest(Stored):
    """A question to a human that a session waits on."""
    session_id: str
    agent_id: str
    workspace_id: str
    key: str
    title: str
    message: str
    #: JSON Schema (an object schema) of the response.
    schema: dict[str, Any]
    #: The answer; null until resolved.
    response: dict[str, Any] | None
    status: Literal["pending", "resolved", "expired"]
    expires_at: str | None
    resolved_at: str | None
    #: Who answered: "user:<name>" (the Jupyter user), "key:<key id>", "link:<approval link id>",
    #: "policy:<approval policy id>" or "system" (on_expiry: reject); null until resolved.
    resolved_by: NotRequired[str | None]
    #: Who answered, as a person reads it: the Jupyter user's name, the key's name, the name typed on an
    #: approval link's page.
    resolved_by_name: NotRequired[str | None]
    defaults: NotRequired[dict[str, Any] | None]
    context: NotRequired[list[ContextItem] | None]
    decisions: NotRequired[list[Literal["approve", "reject", "respond"]] | None]
    #: The person's decision; null for a plain answer (a request without decisions).
    decision: NotRequired[Literal["approve", "reject", "respond"] | None]
    comment: NotRequired[str | None]
    #: RFC 6902 JSON Patch from defaults to response ([] when approved as proposed; null without defaults or
    #: response).
    changes: NotRequired[list[dict[str, Any]] | None]
    remind_every_seconds: NotRequired[int | None]
    escalate_after_seconds: NotRequired[int | None]
    escalate_to: NotRequired[list[str] | None]
    on_expiry: NotRequired[Literal["expire", "reject"]]


class ActivityLink(TypedDict):
    href: str
    text: str


class Activity(Stored):
    """One entry of a session's timeline."""
    session_id: str
    agent_id: str
    workspace_id: str
    type: Literal[
        "session_started", "session_ended", "message", "input_request_created", "input_request_resolved",
        "sink_item_created", "state_updated"]
    source: Literal["system", "agent", "user"]
    message: str | None
    payload: Any
    related_entity_id: str | None
    links: list[ActivityLink]


class ExecutionDelivery(Stored):
    """One call made to an agent's execution endpoint, whatever its outcome."""
    workspace_id: str
    agent_id: str
    #: Null for a background job's run of the agent.
    session_id: str | None
    request_id: str | None
    trigger: Literal["input_request", "job", "webhook"]
    url: str
    method: str
    #: The endpoint's HTTP status; null when it was not reached.
    status_code: int | None
    #: Why the call failed; null on a 2xx answer.
    error: str | None
    duration_ms: float


class Error(TypedDict):
    """Every error reply."""
    #: What is wrong, naming the field.
    error: str


class BackgroundJob(Stored):
    """A schedule (interval_minutes + start_minute, or cron + timezone) and a target (url, or agent_id)."""
    workspace_id: str
    name: str
    enabled: bool
    interval_minutes: int | None
    start_minute: int | None
    cron: str | None
    #: IANA name; set with cron, null with interval_minutes.
    timezone: str | None
    url: str | None
    method: Literal["POST", "GET", "PUT", "DELETE", "PATCH"] | None
    headers: dict[str, str] | None
    body: dict[str, Any] | None
    agent_id: str | None
    #: The notebook it runs: {path, parameters, kernel_name, timeout_seconds}.
    notebook: NotRequired[dict[str, Any] | None]
    #: Null while the job is disabled.
    next_run_at: str | None
    last_run_at: str | None
    total_runs: int
    successful_runs: int
    failed_runs: int
    skipped_runs: int


class BackgroundJobWithSecret(BackgroundJob):
    """A job as created or after its secret is rotated: the only replies that show its secret."""
    #: The job's own secret (whsec_...), shown this once: requests to a url target are signed with it
    #: (Standard Webhooks), never with an agent's or the workspace's secret.
    signing_secret: str


class BackgroundJobRun(Stored):
    """One run of a background job."""
    job_id: str
    workspace_id: str
    status: Literal["running", "success", "failed", "skipped"]
    trigger: Literal["schedule", "manual"]
    #: When a scheduled run was due; null for a manual one.
    scheduled_for: str | None
    started_at: str
    finished_at: str | None
    duration_ms: float | None
    response_status: int | None
    error_message: str | None
    #: The notebook run it started (a notebook target, or an agent that is a notebook).
    notebook_run_id: NotRequired[str | None]


class ApiKey(Stored):
    """A key as listed: never its secret."""
    workspace_id: str
    name: str
    #: The key's first characters, to recognise it.
    prefix: str
    scopes: list[str]
    expires_at: str | None
    #: Refreshed at most once a minute.
    last_used_at: str | None
    #: "kernel" for the key the server gives its kernels (replaced at each start).
    managed: Literal["kernel"] | None


class NewApiKey(ApiKey):
    #: The secret (osk_...): shown in this reply only.
    key: str


class ApprovalLink(Stored):
    """A link as listed: never its token."""
    request_id: str
    workspace_id: str
    note: str | None
    expires_at: str
    #: active until it is used, revoked or past expires_at.
    status: Literal["active", "used", "revoked", "expired"]
    #: When the request was answered through it.
    used_at: str | None
    #: The name the person typed on the page, if any.
    used_by_name: str | None
    revoked_at: str | None


class NewApprovalLink(ApprovalLink):
    #: The page's absolute URL, token included: shown in this reply only.
    url: str


class HumanAnswer(TypedDict):
    """Where a question to a human stands: answered, still pending, or expired."""
    status: Literal["pending", "resolved", "expired"]
    request_id: str
    session_id: str
    agent_id: str
    title: str
    #: The human's answer; null until resolved.
    response: dict[str, Any] | None
    resolved_at: str | None
    #: Who answered: user:<name>, key:<id> or link:<id>.
    resolved_by: str | None
    #: Who answered, as a person reads it.
    resolved_by_name: str | None
    #: approve, reject or respond; null for a plain answer.
    decision: NotRequired[Literal["approve", "reject", "respond"] | None]
    #: The human's reason or reply, if any.
    comment: NotRequired[str | None]
    #: JSON Patch from your defaults to the response ([]: approved as proposed).
    changes: NotRequired[list[dict[str, Any]] | None]
    expires_at: str | None
    #: done: use response; poll: call get_input_request with request_id later; ask_again: the request expired
    #: unanswered.
    next: Literal["done", "poll", "ask_again"]


class NotebookRunError(TypedDict):
    """Where a failed run stopped."""
    #: The failing cell's index in the executed notebook (the injected-parameters cell counts); null when no
    #: cell ran.
    cell_index: int | None
    ename: str
    evalue: str


class NotebookRun(Stored):
    """One run of a notebook, from queued to its end."""
    workspace_id: str
    path: str
    job_id: str | None
    agent_id: str | None
    #: The session the kernel asks on (OPENSINK_SESSION_ID).
    session_id: str | None
    status: Literal["queued", "running", "success", "failed", "timeout", "cancelled"]
    parameters: dict[str, Any]
    #: When its kernel started; null while queued.
    started_at: str | None
    finished_at: str | None
    duration_ms: float | None
    #: The executed notebook, relative to root_dir (opens in JupyterLab).
    output_path: str
    error: NotebookRunError | None
    #: Why it was cancelled or timed out (or why a restart failed it).
    reason: str | None


class NotificationChannel(Stored):
    workspace_id: str
    name: str
    #: The Apprise URL with its credentials masked (shown whole only when sent).
    url: str
    events: list[Literal["input_request.created", "input_request.reminder", "input_request.escalated", "input_request.expired", "session.failed", "job.run.failed"]]
    agent_ids: list[str] | None
    include_link: bool
    enabled: bool


class ChannelTest(TypedDict):
    delivered: bool
    #: Why the service did not take the test message; null when it did.
    error: str | None


class NotificationDelivery(Stored):
    """One attempt to tell a channel something, whatever came of it."""
    workspace_id: str
    channel_id: str
    #: One of the channel events, or channel.test.
    event: str
    #: The input request it was about, if any.
    request_id: str | None
    ok: bool
    #: Why the attempt failed (never the channel's credentials).
    error: str | None
    #: 1 for the first try; retries count up.
    attempt: int
    duration_ms: float


class ApprovalPolicy(Stored):
    """A standing answer: the first enabled, unexpired match (by priority) decides a request at its
    creation.
    """
    workspace_id: str
    name: str
    agent_id: str | None
    request_key: str | None
    when: dict[str, Any]
    decision: Literal["approve", "reject"]
    comment: str | None
    priority: int
    enabled: bool
    expires_at: str | None
    #: The request whose "approve and remember" made this policy; null otherwise.
    remembered_from: NotRequired[str | None]


class AuditRecord(TypedDict):
    """One decision, sealed: ``hash`` = SHA-256 of ``prev_hash`` followed by the record's canonical JSON."""
    id: str
    #: 1 for the first record, +1 for each after it.
    seq: int
    #: When it was decided.
    at: str
    workspace_id: str
    request_id: str
    session_id: str
    agent_id: str
    agent_name: str | None
    key: str
    title: str
    status: Literal["resolved", "expired"]
    defaults: dict[str, Any] | None
    response: dict[str, Any] | None
    changes: list[dict[str, Any]] | None
    decision: Literal["approve", "reject", "respond"] | None
    comment: str | None
    #: user:<name>, key:<id>, link:<id>, policy:<id> or system.
    resolved_by: str | None
    resolved_by_name: str | None
    prev_hash: str
    hash: str


class AuditVerification(TypedDict):
    #: Every record's hash holds and none is missing.
    ok: bool
    #: Records checked.
    records: int
    #: The first record that does not hold (or, when the newest are missing, the id the chain says came last).
    first_bad: str | None


class State(Stored):
    """One value of an agent's namespaced memory."""
    workspace_id: str
    namespace: str
    key: str
    value: Any
    #: 1 when created, +1 per write; send it as If-Match to write conditionally.
    version: int
    expires_at: str | None


class Access(TypedDict):
    read: bool
    write: bool


class DiscoveryWorkspace(TypedDict):
    id: str
    name: str
    is_default: bool


class Caller(TypedDict):
    #: api_key, jupyter_user or sink_secret.
    type: str
    key_id: NotRequired[str | None]
    user: NotRequired[str | None]
    sink_id: NotRequired[str | None]
    scopes: list[str]


class ServerInfo(TypedDict):
    name: str
    version: str


class Discovery(TypedDict):
    """What the calling credential can see and do."""
    workspace: DiscoveryWorkspace
    caller: Caller
    #: The caller's scopes (all:all for the Jupyter user).
    scopes: list[str]
    #: The server's version.
    version: str
    #: Per scope resource.
    access: dict[str, Access]
    #: Objects per resource the caller may read.
    counts: dict[str, int]
    server: ServerInfo
    features: list[str]


class RequestLogEntry(Stored):
    """One API request: no bodies, query strings, credentials or secrets."""
    at: str
    method: str
    path: str
    status: int
    duration_ms: float
    key_id: str | None
    user: str | None
    workspace_id: str | None
    request_bytes: int
    response_bytes: int | None


class PublicSinkInfo(Stored):
    """What a public sink page shows of its sink."""
    name: str
    description: str | None
    color: Literal["neutral", "blue", "green", "yellow", "orange", "red", "purple", "pink"]
    public_slug: str | None


class Sink(PublicSinkInfo):
    """A sink: where agents write items for people to read."""
    workspace_id: str
    is_public: bool
    #: Who created the sink: the Jupyter user's name, or the id of the API key used. Set once, never changed
    #: (PATCH does not take it); null for a sink stored before sinks recorded it.
    owner_id: str | None
    #: Ingest secret: send it as X-OpenSink-Sink-Secret to create items in this sink without an API key. Shown
    #: only to callers holding sinks:write (the Jupyter user, a key with that scope); null for read-only keys,
    #: since it grants writing.
    secret: str | None


class Link(TypedDict):
    type: Literal["link"]
    label: str
    url: str


class PublicItem(Stored):
    """An item as a public sink page shows it (everything but its workspace)."""
    sink_id: str
    title: str
    body: str | None
    type: str | None
    url: str | None
    fields: dict[str, Any]
    resources: list[Link]
    occurred_at: str


class SinkItem(PublicItem):
    """One item of a sink."""
    workspace_id: str


class PublicSink(TypedDict):
    """A public sink and its newest items; nothing private."""
    sink: PublicSinkInfo
    items: list[PublicItem]


class FailedItem(TypedDict):
    item: Any
    error: str


class InvalidItem(TypedDict):
    item: Any
    errors: list[str]


class ManyItems(TypedDict):
    """The reply of /sink-items/many: all items created, or none (then ``invalid`` or ``failed`` say why)."""
    created: list[SinkItem]
    failed: list[FailedItem]
    invalid: list[InvalidItem]


class Webhook(Stored):
    workspace_id: str
    path: str
    action: dict[str, Any]
    #: Lets senders without an API key invoke it; null when it has none. Shown only to callers holding
    #: webhooks:write (the Jupyter user, a key with that scope); null for read-only keys, since it grants
    #: invoking.
    secret: str | None
    dedup: dict[str, Any] | None


class WebhookInvocation(Stored):
    """One call of a webhook and what came of it."""
    webhook_id: str
    workspace_id: str
    status: int
    #: item_created, agent_called, notebook_started, deduplicated or refused.
    outcome: str
    error: str | None
    item_id: str | None
    delivery_id: str | None
    notebook_run_id: NotRequired[str | None]


class InvocationReply(TypedDict):
    item: NotRequired[SinkItem | None]
    delivery: NotRequired[ExecutionDelivery | None]
    #: The run started, when the agent is a notebook.
    notebook_run: NotRequired[NotebookRun | None]
    deduplicated: NotRequired[bool | None]


class Workspace(Stored):
    """A workspace: the tenant every other object belongs to."""
    name: str
    #: Signs the calls to execution endpoints when callback_secret is "workspace" (Standard Webhooks).
    execution_secret: str
    callback_secret: Literal["agent", "workspace"]
    is_default: bool
