"""The OpenAPI 3.1 description, generated from the route table and its models.

Nothing here is written per route: a route added to a ``ROUTES`` list appears
with its method, path parameters, query parameters (paging's among them), request body
schema (the request model), reply schema (the response model, wrapped in a
page for listings), scope and the error statuses its shape implies.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ConfigDict
from pydantic.json_schema import models_json_schema

from .. import __version__
from ..models.common import Error, Resource
from .call import Call
from .auth import WEBHOOK_SECRET
from .routing import ADMIN, ANY, PUBLIC, Json, Route, Stream
from .validation import Query

#: Every error reply is ``{"error": str}``; which statuses a route can answer follows from its shape.
ERRORS = {400: "Invalid input (body, query parameter or paging), naming the field",
          401: "No credential, or an unknown, revoked or expired one",
          403: "The credential lacks the scope, or the route is the Jupyter user's only",
          404: "Unknown id, another workspace's object, or an unknown X-OpenSink-Workspace",
          409: "Conflict with the current state (or an Idempotency-Key reused for another request)",
          412: "If-Match names a version the object is not at",
          413: "Request body too large",
          503: "The database is unavailable"}
PUBLIC_403 = "The Host header names a host this server does not serve"
#: Standard-Webhooks headers of a call signed with a webhook's secret (routes taking ``WEBHOOK_SECRET``).
SIGNATURE_HEADERS = [
    {"name": "webhook-id", "in": "header", "schema": {"type": "string"},
     "description": "The call's id: a signed call is accepted once (a repeat is a 409)."},
    {"name": "webhook-timestamp", "in": "header", "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
     "description": "Unix seconds: at most 5 minutes old and 60 s ahead."},
    {"name": "webhook-signature", "in": "header", "schema": {"type": "string"},
     "description": "v1,<base64 HMAC-SHA256 of \"id.timestamp.body\"> keyed by the webhook's secret "
                    "(several, space-separated)."},
]


def error_statuses(route: Route) -> list[int]:
    """The error statuses ``route`` can answer."""
    codes = {404, 503, *route.errors}
    if route.scope == PUBLIC:
        codes.add(403)  # the Host check (DNS rebinding) still applies
    else:
        codes |= {401, 403}
    if route.body is not None:
        codes |= {400, 413}
    if route.method == "POST" and not route.stream and route.scope != PUBLIC:
        codes |= {400, 409}  # Idempotency-Key: too long, or reused for another request
    if route.query is not None or 412 in route.errors:
        codes.add(400)  # (412: an If-Match that is no version)
    return sorted(codes)


_PARAM = re.compile(r"\{(\w+)\}")


def _security(route: Route) -> list[dict[str, list]]:
    if route.scope == PUBLIC:
        return []
    schemes = [{"jupyterUser": []}]
    if route.scope != ADMIN:
        schemes.insert(0, {"apiKey": []})
    if route.auth.scheme is not None:
        schemes.append({route.auth.scheme: []})
    return schemes


def query_parameters(model: type[Query]) -> list[dict[str, Any]]:
    """One OpenAPI parameter per field of a query model: its type (choices as an enum), default (unless
    None: not sent), description and whether it is required."""
    schema = model.model_json_schema(mode="validation")
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema["properties"].items():
        options = [option for option in field.get("anyOf", [field]) if option.get("type") != "null"]
        kind = {k: v for k, v in (options[0] if len(options) == 1 else field).items()
                if k not in ("title", "description", "default")}
        if field.get("default") is not None:
            kind["default"] = field["default"]
        parameter: dict[str, Any] = {"name": name, "in": "query", "schema": kind}
        if name in required:
            parameter["required"] = True
        if field.get("description"):
            parameter["description"] = field["description"]
        parameters.append(parameter)
    return parameters


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _PARAM.findall(route.path)]
    if route.query is not None:
        parameters += query_parameters(route.query)
    if route.scope not in (PUBLIC,):
        parameters.append({"name": "X-OpenSink-Workspace", "in": "header", "schema": {"type": "string"},
                           "description": "The Jupyter user's workspace (default workspace otherwise)."})
    if route.method == "POST" and route.scope != PUBLIC:
        parameters.append({"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 255},
                           "description": "Repeat the request with the same key to get the first reply again "
                                          "without a second effect (kept 24 h per workspace)."})
    if 412 in route.errors:
        parameters.append({"name": "If-Match", "in": "header", "schema": {"type": "string"},
                           "description": "Only if the object is at this version (412 otherwise)."})
    if route.auth is WEBHOOK_SECRET:
        parameters += SIGNATURE_HEADERS
    if route.query is not None and "last_event_id" in route.query.model_fields:
        parameters.append({"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"},
                           "description": "Resume after this event (as last_event_id); an id no longer known "
                                          "starts the stream with a reset event."})
    reply, model = route.reply, route.reply_model
    if isinstance(reply, Stream):
        ok = {"description": "Written as it happens: " + " or ".join(reply.media),
              "content": {media: {"schema": {"type": "string"}} for media in reply.media}}
    else:
        assert model is not None
        name = model.__name__
        ok = {"description": (model.__doc__ or name).strip().splitlines()[0],
              "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}
    responses: dict[str, Any] = {str(code): ok for code in (reply.status, *reply.also)}
    for code in error_statuses(route):
        text = PUBLIC_403 if code == 403 and route.scope == PUBLIC else ERRORS[code]
        responses[str(code)] = {"description": text, "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/Error"}}}}
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', route.path).rstrip('_')}",
        "summary": route.summary, "tags": [route.tag] if route.tag else [],
        "parameters": parameters, "responses": responses, "security": _security(route),
    }
    if route.scope not in (ADMIN, ANY, PUBLIC):
        operation["x-required-scope"] = route.scope
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
            "$ref": f"#/components/schemas/{route.body.__name__}"}}}}
    return operation


def _allows_null(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    return kinds == "null" or (isinstance(kinds, list) and "null" in kinds) or any(
        _allows_null(option) for option in schema.get("anyOf", []))


def _drop_null_defaults(schema: Any) -> None:
    """PATCH fields default to "not sent", shown as ``default: null``; drop it where null is not allowed."""
    if isinstance(schema, dict):
        if "default" in schema and schema["default"] is None and not _allows_null(schema) and "$ref" not in schema:
            del schema["default"]
        for value in schema.values():
            _drop_null_defaults(value)
    elif isinstance(schema, list):
        for value in schema:
            _drop_null_defaults(value)


def build_openapi(routes: list[Route], server_url: str = "/opensink") -> dict[str, Any]:
    requests = {route.body for route in routes if route.body is not None}
    replies = {route.reply_model for route in routes if route.reply_model is not None} | {Error}
    by_name = lambda m: m.__name__  # noqa: E731
    _, defs = models_json_schema([(m, "validation") for m in sorted(requests, key=by_name)]
                                 + [(m, "serialization") for m in sorted(replies, key=by_name)],
                                 ref_template="#/components/schemas/{model}")
    schemas = defs.get("$defs", {})
    names = [m.__name__ for m in (*requests, *replies)]
    assert len(names) == len(set(names)) and all(n in schemas for n in names), "two models share a name"
    _drop_null_defaults(schemas)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path = route.base.removeprefix("/opensink") + route.path
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "jupyter_opensink", "version": __version__,
                 "description": "The OpenSink agent API, served from inside a Jupyter server."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "A workspace API key (osk_...)."},
                "jupyterUser": {"type": "apiKey", "in": "header", "name": "Authorization",
                                "description": "The Jupyter server token (`token <token>`) or login cookie."},
                "sinkSecret": {"type": "apiKey", "in": "header", "name": "X-OpenSink-Sink-Secret"},
                "webhookSecret": {"type": "apiKey", "in": "header", "name": "X-OpenSink-Webhook-Secret",
                                  "description": "A webhook's own secret; or, instead, Standard-Webhooks "
                                                 "signature headers (webhook-id, webhook-timestamp, "
                                                 "webhook-signature) made with it."},
            },
        },
    }


async def openapi_document(call: Call) -> dict[str, Any]:
    """Every route the server serves (other surfaces' too), this one included."""
    return build_openapi(call.routes, server_url=f"{call.base_url.rstrip('/')}/opensink")


class OpenApiDocument(Resource):
    """An OpenAPI 3.1 description."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    servers: list[dict[str, Any]]
    paths: dict[str, Any]
    components: dict[str, Any]


ROUTES = [
    Route("GET", "/openapi.json", openapi_document, ANY, "This description (OpenAPI 3.1).",
          Json(OpenApiDocument), tag="meta"),
]
