"""/v1/workspaces: the Jupyter user manages workspaces."""

from __future__ import annotations

from ..models.workspaces import Workspace, WorkspaceCreate, WorkspaceUpdate
from ..services.workspaces import render
from .call import Call
from .paging import render_page
from .routing import ADMIN, Route
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
    Route("GET", "/workspaces", list_workspaces, ADMIN, "List workspaces.", tag="workspaces", paged=True,
          response=Workspace),
    Route("POST", "/workspaces", create_workspace, ADMIN, "Create a workspace.", body=WorkspaceCreate,
          status=201, tag="workspaces", response=Workspace),
    Route("GET", "/workspaces/{id}", get_workspace, ADMIN, "Get a workspace.", tag="workspaces",
          response=Workspace),
    Route("PATCH", "/workspaces/{id}", update_workspace, ADMIN, "Rename a workspace or choose which secret its callbacks carry.", body=WorkspaceUpdate,
          tag="workspaces", response=Workspace),
    Route("POST", "/workspaces/{id}/rotate-secret", rotate_secret, ADMIN,
          "Replace the workspace's execution secret.", body=Empty, tag="workspaces",
          response=Workspace),
]
