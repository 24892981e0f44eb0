"""Approval policies: standing answers the workspace's owner gives in advance.

A policy's ``when`` is a JSON Schema matched against a request's facts (``defaults``, ``agent_name``,
``key``, ``title``), so a rule needs no language of its own; ``agent_id`` and ``request_key`` (a glob)
narrow it further. At a request's creation the first enabled, unexpired policy that matches, highest
``priority`` first (the oldest first among equals), decides it at once; see ``InputRequests.create``.

A policy never decides a request of another workspace, never gives a decision the request does not offer,
and so never decides a request of the hosted API's form (one without ``decisions``): those are always a
person's. Only the Jupyter user manages policies (the routes say so): an agent must not approve itself.
"""

from __future__ import annotations

import fnmatch
import time
from typing import Any

import jsonschema_rs

from .scoping import get_owned, scoped
from .. import ids
from ..errors import Invalid
from ..runtime.events import EventBus
from ..store import Insert, Page, Store, TableSpec
from .agents import Agents
from .schemas import check_schema, violations

POLICIES = "approval_policies"
TABLES = [TableSpec(POLICIES, indexes=("workspace_id", "agent_id"))]
#: How long "approve and remember" may remember (a year).
MAX_REMEMBER_SECONDS = 365 * 24 * 3600


def facts(request: dict[str, Any], agent_name: str | None) -> dict[str, Any]:
    """What a policy's ``when`` is matched against."""
    return {"defaults": request.get("defaults"), "agent_name": agent_name, "key": request["key"],
            "title": request["title"]}


def exact_glob(text: str) -> str:
    """A glob matching ``text`` alone (its ``*``, ``?`` and ``[`` taken literally)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def applies(policy: dict[str, Any], request: dict[str, Any], agent_name: str | None, now: str) -> bool:
    """Whether ``policy`` decides ``request`` (of the same workspace) now."""
    if not policy.get("enabled", True) or (policy.get("expires_at") and policy["expires_at"] <= now):
        return False
    if policy["decision"] not in (request.get("decisions") or ()):
        return False  # a decision the request does not offer, or a request of the hosted API's form
    if policy["decision"] == "approve" and request.get("defaults") is None:
        return False  # approving answers with the proposal: there is none
    if policy.get("agent_id") and policy["agent_id"] != request["agent_id"]:
        return False
    if policy.get("request_key") and not fnmatch.fnmatchcase(request["key"], policy["request_key"]):
        return False
    try:
        return not violations(policy["when"], facts(request, agent_name))
    except (jsonschema_rs.ValidationError, ValueError):  # stored under older rules, it no longer compiles
        return False  # a policy that cannot be checked decides nothing


def by_priority(policy: dict[str, Any]) -> tuple[int, str]:
    return -policy.get("priority", 0), policy["id"]


class ApprovalPolicies:
    def __init__(self, store: Store, agents: Agents, events: EventBus):
        self.store = store
        self.agents = agents
        self.events = events

    async def _check(self, workspace_id: str, values: dict[str, Any]) -> None:
        if "when" in values:
            check_schema(values["when"], field="when")
        if values.get("agent_id"):
            await self.agents.get_doc(workspace_id, values["agent_id"])
        if values.get("expires_at") and values["expires_at"] <= ids.now_iso():
            raise Invalid("expires_at must be in the future")

    async def create(self, workspace_id: str, values: dict[str, Any]) -> dict[str, Any]:
        await self._check(workspace_id, values)
        doc = await self.store.insert(POLICIES, {"remembered_from": None, **values, "workspace_id": workspace_id})
        self.events.emit("approval_policy.created", workspace_id, doc)
        return doc

    def remembered(self, request: dict[str, Any], response: dict[str, Any], seconds: int) -> Insert:
        """The policy "approve and remember" makes: approve this agent's requests of this key whose
        proposal is exactly what was just approved, for ``seconds``."""
        if not 1 <= seconds <= MAX_REMEMBER_SECONDS:
            raise Invalid(f"remember.seconds: from 1 to {MAX_REMEMBER_SECONDS} (a year)")
        return Insert(POLICIES, {
            "id": ids.new_id(), "workspace_id": request["workspace_id"],
            "name": f"Remembered: {request['title']}"[:255], "agent_id": request["agent_id"],
            "request_key": exact_glob(request["key"]),
            "when": {"type": "object", "required": ["defaults"], "properties": {"defaults": {"const": response}}},
            "decision": "approve", "comment": None, "priority": 0, "enabled": True,
            "expires_at": ids.format_time(time.time() + seconds), "remembered_from": request["id"]})

    async def get(self, workspace_id: str, policy_id: str) -> dict[str, Any]:
        return await get_owned(self.store, POLICIES, policy_id, workspace_id, "approval policy")

    async def list(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        return await self.store.query(POLICIES, scoped(workspace_id, filters), limit=limit, after=after, order=order)

    async def update(self, workspace_id: str, policy_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        await self.get(workspace_id, policy_id)
        await self._check(workspace_id, changes)
        doc = await self.store.update(POLICIES, policy_id, changes)
        self.events.emit("approval_policy.updated", workspace_id, doc)
        return doc

    async def delete(self, workspace_id: str, policy_id: str) -> dict[str, Any]:
        await self.get(workspace_id, policy_id)
        doc = await self.store.delete(POLICIES, policy_id)
        self.events.emit("approval_policy.deleted", workspace_id, doc)
        return doc

    async def deciding(self, request: dict[str, Any], agent_name: str | None) -> dict[str, Any] | None:
        """The policy that decides ``request`` at its creation, if any."""
        if not request.get("decisions"):
            return None  # the hosted API's form: always a person's (and no query for it)
        now = ids.now_iso()
        candidates = await self.store.all(POLICIES, {"workspace_id": request["workspace_id"]})
        for policy in sorted(candidates, key=by_priority):
            if applies(policy, request, agent_name, now):
                return policy
        return None
