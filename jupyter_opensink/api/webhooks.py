"""/v1/webhooks (definitions), /v1/webhook-invocations (outcomes) and POST {base_url}opensink/hooks/{path}."""

from __future__ import annotations

from ..models.webhooks import HookPayload, InvocationReply, Webhook, WebhookCreate, WebhookInvocation, WebhookUpdate
from .crud import create, listing, one, patch
from .call import Call
from .routing import Route, Status


async def invoke_webhook(call: Call) -> Status:
    """With a credential the handler has checked it (and webhooks:write); without one, the webhook's
    own secret is checked by the service."""
    status, reply = await call.services.webhooks.invoke(call.params["path"], call.principal, call.headers,
                                                        call.raw_body)
    return Status(status, reply)


async def get_invocation(call: Call) -> dict:
    return await call.services.webhooks.get_invocation(call.workspace_id, call.params["id"])


HOOKS, INVOCATIONS = "webhooks", "webhook-invocations"
ROUTES = [
    Route("POST", "/webhooks", create("webhooks", WebhookCreate), "webhooks:write",
          "Define a webhook: a server-unique path and an action (create_item in a sink, or run_agent).",
          body=WebhookCreate, status=201, tag=HOOKS, response=Webhook, errors=(409,)),
    Route("GET", "/webhooks", listing("webhooks"), "webhooks:read", "List webhooks.", tag=HOOKS, paged=True,
          response=Webhook),
    Route("GET", "/webhooks/{id}", one("webhooks"), "webhooks:read", "Get a webhook.", tag=HOOKS, response=Webhook),
    Route("PATCH", "/webhooks/{id}", patch("webhooks", WebhookUpdate), "webhooks:write", "Change a webhook.",
          body=WebhookUpdate, tag=HOOKS, response=Webhook, errors=(409,)),
    Route("DELETE", "/webhooks/{id}", one("webhooks", "delete"), "webhooks:write", "Delete a webhook.", tag=HOOKS,
          response=Webhook),
    Route("GET", "/webhook-invocations", listing("webhooks", "invocations"), "webhooks:read",
          "Every call of a webhook and its outcome (filter: webhook_id).", tag=INVOCATIONS, query=("webhook_id",),
          paged=True, response=WebhookInvocation),
    Route("GET", "/webhook-invocations/{id}", get_invocation, "webhooks:read", "Get one invocation.",
          tag=INVOCATIONS, response=WebhookInvocation),
    Route("POST", "/hooks/{path}", invoke_webhook, "webhooks:write",
          "Invoke a webhook with a JSON object payload: with an API key of its workspace (webhooks:write), or "
          "with its secret (Standard-Webhooks signature, or X-OpenSink-Webhook-Secret). 201 {item} or {delivery}; "
          "200 {deduplicated: true} for a repeat within the dedup TTL.",
          tag="hooks", base="/opensink", status=201, also=(200,), body=HookPayload, response=InvocationReply,
          own_secret=True),
]
