"""The OpenAPI 3.1 description, generated from the route table and the request models.

Nothing here is written per route: a route added to a ``ROUTES`` list appears
with its method, path parameters, query parameters, paging, body schema,
scope and error responses.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import models_json_schema

from .. import __version__
from .handler import Call
from .routing import ADMIN, ANY, PUBLIC, Route

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}},
         "description": "What is wrong, naming the field."}
PAGE_PARAMETERS = [
    {"name": "$limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
    {"name": "$trail", "in": "query", "schema": {"type": "string"},
     "description": "The trail of the previous page, passed back unchanged."},
    {"name": "$order", "in": "query", "schema": {"type": "string", "enum": ["desc", "asc"], "default": "desc"}},
]
ERRORS = {"400": "Invalid input", "401": "No or bad credential", "403": "The credential lacks the scope",
          "404": "Unknown id, or another workspace's", "409": "Conflict with the current state",
          "413": "Request body too large"}
_PARAM = re.compile(r"\{(\w+)\}")


def _security(route: Route) -> list[dict[str, list]]:
    if route.scope == PUBLIC:
        return []
    schemes = [{"jupyterUser": []}]
    if route.scope != ADMIN:
        schemes.insert(0, {"apiKey": []})
    if route.sink_secret:
        schemes.append({"sinkSecret": []})
    return schemes


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _PARAM.findall(route.path)]
    parameters += [{"name": name, "in": "query", "schema": {"type": "string"}} for name in route.query]
    if route.paged:
        parameters += PAGE_PARAMETERS
    if route.scope not in (PUBLIC,):
        parameters.append({"name": "X-OpenSink-Workspace", "in": "header", "schema": {"type": "string"},
                           "description": "The Jupyter user's workspace (default workspace otherwise)."})
    if route.stream:
        ok = {"description": "Server-Sent Events", "content": {"text/event-stream": {"schema": {"type": "string"}}}}
    elif route.paged:
        ok = {"description": "One page", "content": {"application/json": {"schema": {
            "type": "object", "required": ["items", "trail"],
            "properties": {"items": {"type": "array", "items": {"type": "object"}},
                           "trail": {"type": ["string", "null"]}}}}}}
    else:
        ok = {"description": "The object", "content": {"application/json": {"schema": {"type": "object"}}}}
    responses: dict[str, Any] = {str(route.status): ok}
    for code, text in ERRORS.items():
        if code in ("401", "403") and route.scope == PUBLIC:
            continue
        if code == "413" and route.body is None:
            continue
        responses[code] = {"description": text, "content": {"application/json": {"schema": {
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
    models = {route.body for route in routes if route.body is not None}
    _, defs = models_json_schema([(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
                                 ref_template="#/components/schemas/{model}")
    schemas = {**defs.get("$defs", {}), "Error": ERROR}
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
            },
        },
    }


async def openapi_document(call: Call) -> dict[str, Any]:
    from . import ROUTES  # the finished table, including this route

    base_url = call.base_url
    return build_openapi(ROUTES, server_url=f"{base_url.rstrip('/')}/opensink")


ROUTES = [
    Route("GET", "/openapi.json", openapi_document, ANY, "This description (OpenAPI 3.1).", tag="meta"),
]
