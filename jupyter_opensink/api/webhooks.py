"""/v1/webhooks (definitions), /v1/webhook-invocations (outcomes) and POST {base_url}opensink/hooks/{path}."""

from __future__ import annotations

from ..models.webhooks import (HookPayload, InvocationFilters, InvocationReply, Webhook, WebhookCreate,
                               WebhookInvocation, WebhookUpdate)
from .auth import WEBHOOK_SECRET
from .call import Call
from .crud import create, listing, one, patch
from .routing import Json, Page, Route, Status


async def invoke_webhook(call: Call) -> Status:
    """The handler has turned the credential (a key, the Jupyter user, or the webhook's own secret) into
    the principal; the service checks that it may invoke the webhook at this path."""
    status, reply = await call.services.webhooks.invoke(call.params["path"], call.principal, call.headers,
                                                        call.raw_body)
    return Status(status, reply)


async def get_invocation(call: Call) -> dict:
    return await call.services.webhooks.get_invocation(call.workspace_id, call.params["id"])


HOOKS, INVOCATIONS = "webhooks", "webhook-invocations"
ROUTES = [
    Route("POST", "/webhooks", create(lambda s: s.webhooks.create, WebhookCreate), "webhooks:write",
          "Define a webhook: a server-unique path and an action (create_item in a sink, or run_agent).",
          Json(Webhook, 201), body=WebhookCreate, tag=HOOKS, errors=(409,)),
    Route("GET", "/webhooks", listing(lambda s: s.webhooks.list), "webhooks:read", "List webhooks.",
          Page(Webhook), tag=HOOKS),
    Route("GET", "/webhooks/{id}", one(lambda s: s.webhooks.get), "webhooks:read", "Get a webhook.",
          Json(Webhook), tag=HOOKS),
    Route("PATCH", "/webhooks/{id}", patch(lambda s: s.webhooks.update, WebhookUpdate), "webhooks:write",
          "Change a webhook.", Json(Webhook), body=WebhookUpdate, tag=HOOKS, errors=(409,)),
    Route("DELETE", "/webhooks/{id}", one(lambda s: s.webhooks.delete), "webhooks:write", "Delete a webhook.",
          Json(Webhook), tag=HOOKS),
    Route("GET", "/webhook-invocations", listing(lambda s: s.webhooks.invocations), "webhooks:read",
          "Every call of a webhook and its outcome (filter: webhook_id).", Page(WebhookInvocation),
          tag=INVOCATIONS, query=InvocationFilters),
    Route("GET", "/webhook-invocations/{id}", get_invocation, "webhooks:read", "Get one invocation.",
          Json(WebhookInvocation), tag=INVOCATIONS),
    Route("POST", "/hooks/{path}", invoke_webhook, "webhooks:write",
          "Invoke a webhook with a JSON object payload: with an API key of its workspace (webhooks:write), or "
          "with its secret (Standard-Webhooks signature, or X-OpenSink-Webhook-Secret). 201 {item} or {delivery}; "
          "200 {deduplicated: true} for a repeat within the dedup TTL; 409 for a signed call whose "
          "webhook-id was already received (a replay).",
          Json(InvocationReply, 201, also=(200,)), tag="hooks", base="/opensink", body=HookPayload,
          auth=WEBHOOK_SECRET),
]
