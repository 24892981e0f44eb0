"""Approval links: single-use, expiring, revocable capabilities to answer one input request.

The token is shown once (inside the link's URL) and stored as a hash, like an
API key; ``principal_for_token`` turns it into a principal that may answer the
link's one request while the link is active. Using a link resolves its request
through ``InputRequests.resolve`` with the link's own use in the same batch, so
a link answers at most once and a revoked link can never answer.
"""

from __future__ import annotations

import time
from typing import Any

from .. import ids
from ..errors import Conflict, Gone, NotFound
from ..models.links import ApprovalLink
from ..store import Page, Store, TableSpec, Update
from .access import Principal
from .agents import Agents
from .scoping import get_owned
from .secrets import hash_secret, new_token
from .sessions import InputRequests

TABLES = [TableSpec("approval_links", indexes=("request_id", "session_id", "agent_id", "workspace_id"),
                    unique=("token_hash",))]
TOKEN_BYTES = 32  # 256 random bits
#: Longest a typed name may be; longer is cut (it is a label, not an identity).
NAME_MAX = 255
#: Why a link no longer opens, as the page says it.
GONE = {
    "used": "This approval link has already been used.",
    "revoked": "This approval link has been revoked.",
    "expired": "This approval link has expired.",
    "answered": "This request has already been answered.",
    "request_expired": "This request has expired without an answer.",
}


def status_of(link: dict[str, Any], now: str | None = None) -> str:
    if link.get("used_at"):
        return "used"
    if link.get("revoked_at"):
        return "revoked"
    if link["expires_at"] <= (now or ids.now_iso()):
        return "expired"
    return "active"


def render(link: dict[str, Any]) -> dict[str, Any]:
    """The link as ``ApprovalLink`` declares it: never its token's hash nor its form key."""
    shown = {k: link.get(k) for k in ApprovalLink.model_fields}
    shown["status"] = status_of(link)
    return shown


#: Who answered through a link when the person typed no name.
LINK_HOLDER = "someone with the approval link"


class ApprovalLinks:
    def __init__(self, store: Store, input_requests: InputRequests, agents: Agents):
        self.store = store
        self.input_requests = input_requests
        self.agents = agents

    async def create(self, workspace_id: str, request_id: str, *, expires_in: int,
                     note: str | None) -> dict[str, Any]:
        """The link's record plus ``token``, the only time it is known outside a hash."""
        request = await self.input_requests.get(workspace_id, request_id)
        now = ids.now_iso()
        if request["status"] != "pending":
            raise Conflict(f"input request {request_id} is already {request['status']}: links are for pending "
                           "requests")
        if request.get("expires_at") and request["expires_at"] <= now:
            raise Conflict(f"input request {request_id} expired at {request['expires_at']}")
        expires_at = ids.format_time(time.time() + expires_in)
        if request.get("expires_at") and request["expires_at"] < expires_at:
            expires_at = request["expires_at"]  # the link dies with the request
        token = new_token(TOKEN_BYTES)
        doc = await self.store.insert("approval_links", {
            "request_id": request_id, "session_id": request["session_id"], "agent_id": request["agent_id"],
            "workspace_id": workspace_id, "note": note, "token_hash": hash_secret(token),
            "form_key": new_token(TOKEN_BYTES), "expires_at": expires_at, "used_at": None, "used_by_name": None,
            "revoked_at": None,
        })
        return {**render(doc), "token": token}

    async def list(self, workspace_id: str, request_id: str, *, limit: int, after: str | None,
                   order: str) -> Page:
        await self.input_requests.get(workspace_id, request_id)
        page = await self.store.query("approval_links", {"request_id": request_id, "workspace_id": workspace_id},
                                      limit=limit, after=after, order=order)
        page.items = [render(d) for d in page.items]
        return page

    async def _owned(self, workspace_id: str, request_id: str, link_id: str) -> dict[str, Any]:
        link = await get_owned(self.store, "approval_links", link_id, workspace_id, "approval link")
        if link["request_id"] != request_id:
            raise NotFound(f"approval link {link_id} not found")
        return link

    async def get(self, workspace_id: str, request_id: str, link_id: str) -> dict[str, Any]:
        return render(await self._owned(workspace_id, request_id, link_id))

    async def revoke(self, workspace_id: str, request_id: str, link_id: str) -> dict[str, Any]:
        """The link stops working at once; revoking it again changes nothing; a used link is history."""
        link = await self._owned(workspace_id, request_id, link_id)
        if link.get("used_at"):
            raise Conflict(f"approval link {link_id} was already used at {link['used_at']}")
        if link.get("revoked_at"):
            return render(link)
        try:
            done = await self.store.update("approval_links", link_id, {"revoked_at": ids.now_iso()},
                                           expect={"used_at": None})
        except Conflict:
            raise Conflict(f"approval link {link_id} was used meanwhile") from None
        return render(done)

    # -- the page's side: the token is the only credential -------------------------------------------
    async def find(self, token: str) -> dict[str, Any]:
        """The link a token opens (``NotFound`` for an unknown token; never says more).

        The store finds it by equal hash, so there is nothing left to compare (and the hash of a random
        256-bit token gives a timing attack nothing to learn).
        """
        page = await self.store.query("approval_links", {"token_hash": hash_secret(token)}, limit=1)
        if not page.items:
            raise NotFound("unknown approval link")
        return page.items[0]

    @staticmethod
    def _require_active(link: dict[str, Any]) -> None:
        """``Gone`` saying why, for a link used, revoked or expired."""
        state = status_of(link)
        if state != "active":
            raise Gone(GONE[state], state)

    async def principal_for_token(self, token: str) -> Principal:
        """Who holds an active link's token: someone who may answer that link's one request.

        ``NotFound`` for an unknown token, ``Gone`` saying why for a link that no longer opens.
        """
        link = await self.find(token)
        self._require_active(link)
        return Principal(workspace_id=link["workspace_id"], is_user=False,
                         scopes=("agent_session_input_requests:write",), link_id=link["id"],
                         request_id=link["request_id"])

    async def open(self, principal: Principal) -> tuple[dict[str, Any], dict[str, Any], str]:
        """(link, request, agent name) for the link ``principal`` holds while it is usable, else ``NotFound``
        or ``Gone`` saying why (read again: it may have been used, revoked or deleted meanwhile)."""
        link = await self.store.get("approval_links", principal.link_id) if principal.link_id else None
        if link is None or link["request_id"] != principal.request_id:
            raise NotFound("unknown approval link")
        self._require_active(link)
        try:
            request = await self.input_requests.get(link["workspace_id"], link["request_id"])
        except NotFound:
            raise NotFound("unknown approval link") from None  # its request was deleted
        if request["status"] == "resolved":
            raise Gone(GONE["answered"], "answered")
        if request["status"] == "expired" or (request.get("expires_at") and request["expires_at"] <= ids.now_iso()):
            raise Gone(GONE["request_expired"], "request_expired")
        try:
            agent_name = (await self.agents.get_doc(link["workspace_id"], request["agent_id"]))["name"]
        except NotFound:
            agent_name = request["agent_id"]
        return link, request, agent_name

    async def use(self, principal: Principal, response: dict[str, Any] | None, name: str | None, *,
                  decision: str | None = None, comment: str | None = None) -> dict[str, Any]:
        """Answer the request of the link ``principal`` holds with ``response`` (or a decision); the link is
        used up in the same write. Without a typed name the answer is recorded as the link's."""
        link, request, _ = await self.open(principal)
        name = (name or "").strip()[:NAME_MAX] or None
        now = ids.now_iso()
        spend = Update("approval_links", link["id"], {"used_at": now, "used_by_name": name},
                       expect={"used_at": None, "revoked_at": None})
        try:
            return await self.input_requests.resolve(link["workspace_id"], request["id"], response,
                                                     decision=decision, comment=comment,
                                                     resolved_by=principal.label,
                                                     resolved_by_name=name or LINK_HOLDER, also=(spend,))
        except Conflict:
            await self.open(principal)  # raises Gone saying what happened meanwhile
            raise

    @staticmethod
    def form_key(link: dict[str, Any]) -> bytes:
        """The key the page's anti-forgery token is made with: per link, stored, never shown."""
        return link["form_key"].encode()
