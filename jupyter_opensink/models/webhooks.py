"""Inbound webhooks: what a POST to {base_url}opensink/hooks/{path} does."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .agents import ExecutionDelivery
from .common import Model, Query, Resource, Stored, WriteSecret, patch_of
from .notebooks import NotebookRun
from .sinks import SinkItem

#: RFC 6901: "" is the whole payload, "/a/0/b~1c" walks into it.
Pointer = Annotated[str, StringConstraints(pattern=r"^(/([^~/]|~[01])*)*$", max_length=1024)]
HookPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._~-]{1,255}$")]


class CreateItem(Model):
    """Create an item in a sink from the payload."""

    type: Literal["create_item"]
    sink_id: str
    title: Pointer = Field(description="Where the item's title is in the payload.")
    body: Pointer | None = None
    fields: dict[str, Pointer] | None = Field(None, description="Item field name -> where its value is.")
    defaults: dict[str, Any] | None = Field(
        None, description="Used when a pointer finds nothing: {\"title\": ..., \"body\": ..., \"<field>\": ...}.")


class RunAgent(Model):
    """Start a run of an agent: its execution endpoint is called with the payload merged into the body (an
    agent that is a notebook runs it, with that body as the parameter ``payload``)."""

    type: Literal["run_agent"]
    agent_id: str
    body: dict[str, Any] | None = Field(None, description="Fixed fields added to the call's body.")


class Dedup(Model):
    key: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        description="A JSON pointer into the payload, or header:<Name>.")
    ttl_seconds: int = Field(ge=1, le=7 * 86400)


class WebhookCreate(Model):
    path: HookPath = Field(description="Unique on the server: the webhook is invoked at opensink/hooks/<path>.")
    action: Annotated[CreateItem | RunAgent, Field(discriminator="type")]
    secret: Annotated[str, StringConstraints(min_length=16, max_length=255)] | None = Field(
        None, description="Lets senders without an API key call it (signature or shared-secret header).")
    dedup: Dedup | None = None


WebhookUpdate = patch_of(WebhookCreate, "WebhookUpdate")


class Webhook(Stored):
    workspace_id: str
    path: str
    action: dict[str, Any]
    secret: Annotated[str | None, WriteSecret("webhooks")] = Field(
        description="Lets senders without an API key invoke it; null when it has none. Shown only to "
                    "callers holding webhooks:write (the Jupyter user, a key with that scope); null for "
                    "read-only keys, since it grants invoking.")
    dedup: dict[str, Any] | None


class WebhookInvocation(Stored):
    """One call of a webhook and what came of it."""

    webhook_id: str
    workspace_id: str
    status: int
    outcome: str = Field(description="item_created, agent_called, notebook_started, deduplicated or refused.")
    error: str | None
    item_id: str | None
    delivery_id: str | None
    notebook_run_id: str | None = None


class HookPayload(BaseModel):
    """Any JSON object: what the webhook's action reads with its pointers."""

    model_config = ConfigDict(extra="allow")


class InvocationReply(Resource):
    item: SinkItem | None = None
    delivery: ExecutionDelivery | None = None
    notebook_run: NotebookRun | None = Field(None, description="The run started, when the agent is a notebook.")
    deduplicated: bool | None = None


class InvocationFilters(Query):
    webhook_id: str | None = Field(None, description="Only this webhook's invocations.")
