"""/v1/api-keys: the Jupyter user manages every workspace's keys."""

from __future__ import annotations

from ..models.keys import ApiKey, ApiKeyCreate, KeyFilters, NewApiKey
from .call import Call
from .paging import render_page
from .routing import ADMIN, Json, Page, Route, Secret


async def create_key(call: Call) -> dict:
    body = call.body(ApiKeyCreate)
    values = body.values()
    return await call.services.api_keys.create(
        name=values["name"], scopes=values["scopes"],
        workspace_id=values["workspace_id"], expires_at=values["expires_at"])


async def list_keys(call: Call) -> dict:
    paging = call.paging()
    page = await call.services.api_keys.list(workspace_id=call.query(KeyFilters).workspace_id,
                                             limit=paging.limit, after=paging.after, order=paging.order)
    return render_page(page, paging.order)


async def get_key(call: Call) -> dict:
    return await call.services.api_keys.get(call.params["id"])


async def revoke_key(call: Call) -> dict:
    return await call.services.api_keys.revoke(call.params["id"])


ROUTES = [
    Route("POST", "/api-keys", create_key, ADMIN,
          "Create an API key (its secret is shown only in this reply).", Secret(NewApiKey, 201),
          body=ApiKeyCreate, tag="api-keys"),
    Route("GET", "/api-keys", list_keys, ADMIN, "List the API keys of every workspace (never their secrets).",
          Page(ApiKey), tag="api-keys", query=KeyFilters),
    Route("GET", "/api-keys/{id}", get_key, ADMIN, "Get one API key.", Json(ApiKey), tag="api-keys"),
    Route("DELETE", "/api-keys/{id}", revoke_key, ADMIN, "Revoke an API key.", Json(ApiKey), tag="api-keys"),
]
