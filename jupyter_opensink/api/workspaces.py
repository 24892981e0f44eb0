"""/v1/workspaces: the Jupyter user manages workspaces."""

from __future__ import annotations

from ..models.workspaces import Workspace, WorkspaceCreate, WorkspaceUpdate
from ..services.workspaces import render
from .call import Call
from .paging import render_page
from .routing import ADMIN, Json, Page, Route
from .validation import Empty


async def create_workspace(call: Call) -> dict:
    body = call.body(WorkspaceCreate)
    return render(await call.services.workspaces.create(body.name, body.callback_secret))


async def list_workspaces(call: Call) -> dict:
    paging = call.paging()
    page = await call.services.workspaces.list(limit=paging.limit, after=paging.after, order=paging.order)
    return render_page(page, paging.order, render)


async def get_workspace(call: Call) -> dict:
    return render(await call.services.workspaces.get(call.params["id"]))


async def update_workspace(call: Call) -> dict:
    changes = call.body(WorkspaceUpdate).changes()
    return render(await call.services.workspaces.update(call.params["id"], changes))


async def rotate_secret(call: Call) -> dict:
    call.body(Empty)
    return render(await call.services.workspaces.rotate_secret(call.params["id"]))


ROUTES = [
    Route("GET", "/workspaces", list_workspaces, ADMIN, "List workspaces.", Page(Workspace),
          tag="workspaces"),
    Route("POST", "/workspaces", create_workspace, ADMIN, "Create a workspace.", Json(Workspace, 201),
          body=WorkspaceCreate, tag="workspaces"),
    Route("GET", "/workspaces/{id}", get_workspace, ADMIN, "Get a workspace.", Json(Workspace),
          tag="workspaces"),
    Route("PATCH", "/workspaces/{id}", update_workspace, ADMIN,
          "Rename a workspace or choose which secret its callbacks carry.", Json(Workspace),
          body=WorkspaceUpdate, tag="workspaces"),
    Route("POST", "/workspaces/{id}/rotate-secret", rotate_secret, ADMIN,
          "Replace the workspace's execution secret.", Json(Workspace), body=Empty, tag="workspaces"),
]
