"""/v1/agent-session-input-requests/{id}/links: approval links (the page itself is approval/page.py)."""

from __future__ import annotations

from ..models.links import ApprovalLink, LinkCreate, NewApprovalLink
from .call import Call
from .paging import render_page
from .routing import Json, Page, Route, Secret

#: Where the page lives, below the server's base URL.
PAGE_PATH = "opensink/approve/"


def page_url(call: Call, token: str) -> str:
    """Absolute, so it can be pasted into chat or mail: the configured public URL, else the request's own."""
    root = call.public_url or f"{call.origin}{call.base_url}"
    return root.rstrip("/") + "/" + PAGE_PATH + token


async def create_link(call: Call) -> dict:
    body = call.body(LinkCreate) if call.raw_body.strip() else LinkCreate()
    link = await call.services.approval_links.create(call.workspace_id, call.params["id"],
                                                     expires_in=body.expires_in, note=body.note)
    token = link.pop("token")
    return {**link, "url": page_url(call, token)}


async def list_links(call: Call) -> dict:
    paging = call.paging()
    page = await call.services.approval_links.list(call.workspace_id, call.params["id"], limit=paging.limit,
                                                   after=paging.after, order=paging.order)
    return render_page(page, paging.order)


async def get_link(call: Call) -> dict:
    return await call.services.approval_links.get(call.workspace_id, call.params["id"], call.params["link_id"])


async def revoke_link(call: Call) -> dict:
    return await call.services.approval_links.revoke(call.workspace_id, call.params["id"], call.params["link_id"])


TAG = "agent-session-input-requests"
ROUTES = [
    Route("POST", "/agent-session-input-requests/{id}/links", create_link,
          "agent_session_input_requests:write",
          "Create an approval link: a single-use URL whose page answers this pending request without a Jupyter "
          "login (the URL is shown in this reply only). 409 for a request that is not pending.",
          Secret(NewApprovalLink, 201), body=LinkCreate, tag=TAG, errors=(409,)),
    Route("GET", "/agent-session-input-requests/{id}/links", list_links, "agent_session_input_requests:read",
          "List the request's approval links (never their tokens).", Page(ApprovalLink), tag=TAG),
    Route("GET", "/agent-session-input-requests/{id}/links/{link_id}", get_link,
          "agent_session_input_requests:read", "Get one approval link.", Json(ApprovalLink), tag=TAG),
    Route("DELETE", "/agent-session-input-requests/{id}/links/{link_id}", revoke_link,
          "agent_session_input_requests:write",
          "Revoke an approval link: its page stops working at once (409 for a link already used).",
          Json(ApprovalLink), tag=TAG, errors=(409,)),
]
