"""Agent sessions, their activity timeline, and the input requests that pause them."""

from __future__ import annotations

import asyncio
from typing import Any

from .scoping import get_owned, scoped
from .. import ids
from ..errors import Conflict, Invalid, NotFound
from ..models.agents import SYSTEM_ACTIVITY_TYPES
from ..runtime.events import EventBus
from ..store import Insert, Op, Page, Store, TableSpec, Update
from .access import Principal
from .agents import Agents
from .audit import AuditLog, decision_entry
from .cascade import delete_with_children
from . import followups
from .decisions import answer, check_proposal, settle
from .policies import ApprovalPolicies
from .schemas import check_schema

#: Resolved requests whose callback is not settled yet (sent, or the session failed). Written in the
#: resolve's own batch, cleared by the deliveries service, re-run at start after a crash.
OUTBOX = "callback_outbox"
TABLES = [
    TableSpec(OUTBOX),
    TableSpec("agent_sessions", indexes=("agent_id", "workspace_id", "status")),
    TableSpec("input_requests", indexes=("session_id", "agent_id", "workspace_id", "status")),
    TableSpec("activities", indexes=("session_id", "agent_id", "workspace_id", "type", "source")),
]
TERMINAL = ("completed", "failed")
#: Deletions that may take a waited-for request along with them.
WAKING_EVENTS = ("session.deleted", "agent.deleted")


def system_activity(session: dict[str, Any], type: str, message: str,
                    related_entity_id: str | None = None, payload: Any = None) -> Insert:
    return Insert("activities", {
        "session_id": session["id"], "agent_id": session["agent_id"], "workspace_id": session["workspace_id"],
        "type": type, "source": "system", "message": message, "payload": payload,
        "related_entity_id": related_entity_id, "links": [],
    })


def status_change(session: dict[str, Any], changes: dict[str, Any]) -> list[Op]:
    """The session update plus ``session_ended`` when it enters a terminal status."""
    ops: list[Op] = [Update("agent_sessions", session["id"], changes)]
    new_status = changes.get("status", session["status"])
    if new_status in TERMINAL and session["status"] != new_status:
        message = f"Session {new_status}" + (f": {changes['error_message']}" if changes.get("error_message") else "")
        ops.append(system_activity(session, "session_ended", message, payload={"status": new_status}))
    return ops


class Sessions:
    def __init__(self, store: Store, agents: Agents, events: EventBus):
        self.store = store
        self.agents = agents
        self.events = events

    async def get(self, workspace_id: str, session_id: str) -> dict[str, Any]:
        return await get_owned(self.store, "agent_sessions", session_id, workspace_id, "agent session")

    async def create(self, workspace_id: str, values: dict[str, Any]) -> dict[str, Any]:
        await self.agents.get_doc(workspace_id, values["agent_id"])
        session = {"id": ids.new_id(), "workspace_id": workspace_id, **values}
        ops: list[Op] = [Insert("agent_sessions", session),
                         system_activity(session, "session_started", "Session started")]
        if session["status"] in TERMINAL:
            ops.append(system_activity(session, "session_ended", f"Session {session['status']}",
                                       payload={"status": session["status"]}))
        done = await self.store.batch(ops)
        self.events.emit("session.created", workspace_id, done[0])
        self.emit_activities(workspace_id, done[1:])
        return done[0]

    def emit_activities(self, workspace_id: str, docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            self.events.emit("activity.created", workspace_id, doc)

    async def list(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        return await self.store.query("agent_sessions", scoped(workspace_id, filters), limit=limit, after=after,
                                      order=order)

    async def update(self, workspace_id: str, session_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        session = await self.get(workspace_id, session_id)
        ops = status_change(session, changes)
        done = await self.store.batch(ops + await self._delivery_failed_by(session, changes))
        self.events.emit("session.updated", workspace_id, done[0])
        self.emit_activities(workspace_id, done[1:len(ops)])
        return done[0]

    async def _delivery_failed_by(self, session: dict[str, Any], changes: dict[str, Any]) -> list[Op]:
        """A session that fails while its agent handles an answer: the delivery that brought the answer was
        accepted (2xx) but did not succeed, so its record says so too (the Deliveries view shows it)."""
        if session["status"] != "processing_input" or changes.get("status") != "failed":
            return []
        page = await self.store.query("execution_deliveries", {"session_id": session["id"]}, limit=1)
        latest = page.items[0] if page.items else None
        if latest is None or latest.get("error") is not None:
            return []
        reason = changes.get("error_message") or "no reason given"
        return [Update("execution_deliveries", latest["id"],
                       {"error": f"the agent failed while handling it: {reason}"[:2000]})]

    async def fail(self, workspace_id: str, session_id: str, error_message: str) -> dict[str, Any] | None:
        """Mark a session failed (a failed callback, an expired request); None if it is gone."""
        try:
            return await self.update(workspace_id, session_id, {"status": "failed", "error_message": error_message})
        except NotFound:
            return None

    async def delete(self, workspace_id: str, session_id: str) -> dict[str, Any]:
        await self.get(workspace_id, session_id)
        doc = await delete_with_children(self.store, "agent_sessions", session_id,
                                         [("approval_links", {"session_id": session_id}),
                                          ("input_requests", {"session_id": session_id}),
                                          ("activities", {"session_id": session_id}),
                                          ("execution_deliveries", {"session_id": session_id})])
        self.events.emit("session.deleted", workspace_id, doc)
        return doc


class Activities:
    def __init__(self, store: Store, sessions: Sessions, events: EventBus):
        self.store = store
        self.sessions = sessions
        self.events = events

    async def get(self, workspace_id: str, activity_id: str) -> dict[str, Any]:
        return await get_owned(self.store, "activities", activity_id, workspace_id, "activity")

    async def create(self, principal: Principal, values: dict[str, Any]) -> dict[str, Any]:
        """Agents and users log their own activities; the four system types are the server's."""
        if values["type"] in SYSTEM_ACTIVITY_TYPES:
            raise Invalid(f"type: {values['type']} activities are written by the server itself; "
                          "log message, sink_item_created or state_updated")
        session = await self.sessions.get(principal.workspace_id, values["session_id"])
        if values.get("agent_id") not in (None, session["agent_id"]):
            raise Invalid("agent_id: this session belongs to another agent")
        source = values.get("source") or ("user" if principal.is_user else "agent")
        doc = await self.store.insert("activities", {
            **values, "agent_id": session["agent_id"], "workspace_id": principal.workspace_id, "source": source,
        })
        self.events.emit("activity.created", principal.workspace_id, doc)
        return doc

    async def list(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        return await self.store.query("activities", scoped(workspace_id, filters), limit=limit, after=after,
                                      order=order)


#: Who answers a request whose ``on_expiry`` is ``reject`` when its time runs out, and the name it goes by.
SYSTEM = "system"
NO_ANSWER_IN_TIME = "no answer in time"


class InputRequests:
    def __init__(self, store: Store, sessions: Sessions, events: EventBus, policies: ApprovalPolicies,
                 audit: AuditLog):
        self.store = store
        self.sessions = sessions
        self.events = events
        self.policies = policies
        self.audit = audit
        #: The shortest ``remind_every_seconds`` a request may ask for (OpenSinkApp.notification_min_remind_seconds).
        self.min_remind_seconds = 60.0

    async def get(self, workspace_id: str, request_id: str) -> dict[str, Any]:
        return await get_owned(self.store, "input_requests", request_id, workspace_id, "input request")

    async def create(self, workspace_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """A pending request; the session waits for input and the timeline says so.

        When an approval policy decides it, it is created already decided, in the same batch: the session
        goes on at once, the timeline says which policy decided, and the callback is sent as for a person.
        """
        session = await self.sessions.get(workspace_id, values["session_id"])
        if session["agent_id"] != values["agent_id"]:
            raise Invalid("agent_id: this agent does not own the session")
        check_schema(values["schema"], object_only=True)
        check_proposal(values)
        if values.get("expires_at") and values["expires_at"] <= ids.now_iso():
            raise Invalid("expires_at must be in the future")
        await followups.check(values, min_remind_seconds=self.min_remind_seconds,
                              channel_exists=lambda channel_id: self._channel_exists(workspace_id, channel_id))
        request = {"id": ids.new_id(), "defaults": None, "context": None, "decisions": None,
                   "remind_every_seconds": None, "escalate_after_seconds": None, "escalate_to": None, **values,
                   "workspace_id": workspace_id, "response": None, "status": "pending", "resolved_at": None,
                   "expires_at": values.get("expires_at"), "resolved_by": None, "resolved_by_name": None,
                   "decision": None, "comment": None, "changes": None}
        created = system_activity(session, "input_request_created", f"Asked: {values['title']}",
                                  related_entity_id=request["id"])
        agent_name = None
        policy = None
        if request["decisions"]:
            agent_name = await self._agent_name(request)
            policy = await self.policies.deciding(request, agent_name)
        if policy is None:
            done = await self.store.batch([Insert("input_requests", request),
                                           *status_change(session, {"status": "waiting_for_input"}), created])
            self.events.emit("input_request.created", workspace_id, done[0])
            self.events.emit("session.updated", workspace_id, done[1])
            self.sessions.emit_activities(workspace_id, done[2:])
            return done[0]
        answered = settle(request, request["defaults"], policy["decision"], policy.get("comment"))
        decided = {**request, **answered, "status": "resolved", "resolved_at": ids.now_iso(),
                   "resolved_by": f"policy:{policy['id']}", "resolved_by_name": policy["name"]}
        verb = {"approve": "Approved", "reject": "Rejected"}[policy["decision"]]
        ops: list[Op] = [Insert("input_requests", decided),
                         *status_change(session, {"status": "processing_input"}), created,
                         self._resolved_activity(session, decided, f"{verb} by policy '{policy['name']}': "
                                                                   f"{request['title']}"),
                         Insert(OUTBOX, {"id": request["id"], "workspace_id": workspace_id,
                                         "created_at": decided["resolved_at"]})]
        done = await self.audit.commit(ops, [decision_entry(decided, agent_name)])
        self.events.emit("input_request.created", workspace_id, done[0])
        self.events.emit("session.updated", workspace_id, done[1])
        self.sessions.emit_activities(workspace_id, done[2:-1])
        self._emit_resolved(workspace_id, done[0])
        return done[0]

    async def _channel_exists(self, workspace_id: str, channel_id: str) -> bool:
        channel = await self.store.get(followups.CHANNELS, channel_id)
        return channel is not None and channel["workspace_id"] == workspace_id

    def _emit_resolved(self, workspace_id: str, request: dict[str, Any]) -> None:
        """The event carries the answer as the callback body does, so a follower of the stream reads it the
        same way (the request's own fields are there too), whoever decided."""
        self.events.emit("input_request.resolved", workspace_id, {**request, "answer": answer(request)})

    async def _agent_name(self, request: dict[str, Any]) -> str | None:
        """What policies match and the audit log keeps of the asking agent (None once it is deleted)."""
        return (await self.store.get("agents", request["agent_id"]) or {}).get("name")

    @staticmethod
    def _resolved_activity(session: dict[str, Any], request: dict[str, Any], message: str) -> Insert:
        who = {"resolved_by": request["resolved_by"], "resolved_by_name": request["resolved_by_name"]}
        return system_activity(session, "input_request_resolved", message, related_entity_id=request["id"],
                               payload={**who, "answer": answer(request)})

    async def list(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        return await self.store.query("input_requests", scoped(workspace_id, filters), limit=limit, after=after,
                                      order=order)

    def _not_pending(self, request: dict[str, Any]) -> Conflict:
        return Conflict(f"input request {request['id']} is already {request['status']}")

    async def resolve(self, workspace_id: str, request_id: str, response: dict[str, Any] | None, *,
                      decision: str | None = None, comment: str | None = None,
                      resolved_by: str | None = None, resolved_by_name: str | None = None,
                      also: tuple[Op, ...] = (), remember_seconds: int | None = None) -> dict[str, Any]:
        """Answer a pending request (the decision rules are ``decisions.settle``'s), then the session resumes.

        ``resolved_by`` says who answered (``user:<name>``, ``key:<id>``, ``link:<id>``) and
        ``resolved_by_name`` as a person reads it; ``also`` are writes that must happen in the same batch
        or not at all (an approval link being used up): a ``Conflict`` from one of them is raised as it is
        while the request is still pending. ``remember_seconds`` ("approve and remember", the Jupyter user's
        alone: the caller checks) adds the policy approving the same again for that long. The audit record
        is written in the same batch.
        """
        request = await self.get(workspace_id, request_id)
        if request["status"] != "pending":
            raise self._not_pending(request)
        if request.get("expires_at") and request["expires_at"] <= ids.now_iso():
            await self.expire(workspace_id, request_id)
            raise Conflict(f"input request {request_id} expired at {request['expires_at']}")
        answered = settle(request, response, decision, comment)
        if remember_seconds is not None:
            if decision != "approve":
                raise Invalid("remember: only an approval is remembered (decision approve)")
            also = (*also, self.policies.remembered(request, answered["response"], remember_seconds))
        session = await self.sessions.get(workspace_id, request["session_id"])
        verb = {"approve": "Approved", "reject": "Rejected", "respond": "Replied to"}.get(decision or "", "Answered")
        message = f"{verb}: {request['title']}" + (f" (by {resolved_by_name})" if resolved_by_name else "")
        try:
            done = await self._write_answer(request, session, answered, message, resolved_by=resolved_by,
                                            resolved_by_name=resolved_by_name, also=also)
        except Conflict:
            current = await self.get(workspace_id, request_id)
            if current["status"] != "pending" or not also:
                raise self._not_pending(current) from None
            raise  # one of ``also`` refused
        if remember_seconds is not None:
            self.events.emit("approval_policy.created", workspace_id, done[-1])
        return done[0]

    async def _write_answer(self, request: dict[str, Any], session: dict[str, Any], answered: dict[str, Any],
                            message: str, *, resolved_by: str | None, resolved_by_name: str | None,
                            also: tuple[Op, ...] = ()) -> list[dict[str, Any]]:
        """Resolve ``request`` in one batch with its audit record (request, session, activity, the callback's
        outbox entry and ``also``), then announce it; ``Conflict`` when it is no longer pending. Returns what
        the batch wrote, the request first."""
        workspace_id, request_id = request["workspace_id"], request["id"]
        now = ids.now_iso()
        changes = {"status": "resolved", "resolved_at": now, **answered, "resolved_by": resolved_by,
                   "resolved_by_name": resolved_by_name}
        decided = {**request, **changes}
        agent_name = await self._agent_name(request)
        done = await self.audit.commit([
            Update("input_requests", request_id, changes, expect={"status": "pending"}),
            *status_change(session, {"status": "processing_input"}),
            self._resolved_activity(session, decided, message),
            Insert(OUTBOX, {"id": request_id, "workspace_id": workspace_id, "created_at": now}),
            *also,
        ], [decision_entry(decided, agent_name)])
        self._emit_resolved(workspace_id, done[0])
        self.events.emit("session.updated", workspace_id, done[1])
        self.sessions.emit_activities(workspace_id, done[2:-1 - len(also)])
        return done

    async def expire(self, workspace_id: str, request_id: str) -> dict[str, Any] | None:
        """A pending request whose time ran out: it expires and its session fails saying so; or, when it
        asked for ``on_expiry: reject``, the system rejects it and the agent is called back as for a person's
        answer."""
        request = await self.store.get("input_requests", request_id)
        if request is None or request["status"] != "pending":
            return None
        session = await self.store.get("agent_sessions", request["session_id"])
        if request.get("on_expiry") == "reject" and session is not None:
            answered = {"response": None, "decision": "reject", "comment": "expired", "changes": None}
            try:
                done = await self._write_answer(request, session, answered,
                                                f"Rejected: {request['title']} (expired without an answer)",
                                                resolved_by=SYSTEM, resolved_by_name=NO_ANSWER_IN_TIME)
            except Conflict:
                return None  # answered at the same moment
            return done[0]
        message = (f"input request {request['key']!r} expired at {request['expires_at']} "
                   "without an answer")
        ops: list[Op] = [Update("input_requests", request_id, {"status": "expired"}, expect={"status": "pending"})]
        if session is not None:
            ops += status_change(session, {"status": "failed", "error_message": message})
        agent_name = await self._agent_name(request)
        entry = decision_entry({**request, "status": "expired", "resolved_at": ids.now_iso(), "resolved_by": SYSTEM,
                                "resolved_by_name": NO_ANSWER_IN_TIME}, agent_name)
        try:
            done = await self.audit.commit(ops, [entry])
        except Conflict:
            return None  # resolved at the same moment
        self.events.emit("input_request.expired", workspace_id, done[0])
        if session is not None:
            self.events.emit("session.updated", workspace_id, done[1])
            self.sessions.emit_activities(workspace_id, done[2:])
        return done[0]

    async def wait_settled(self, workspace_id: str, request_id: str, timeout: float,
                           until: asyncio.Event | None = None) -> dict[str, Any]:
        """The request once it is no longer pending, or as it is when ``timeout`` seconds have passed
        (or ``until`` is set: the server is stopping).

        Woken by events (which also arrive from other servers on a shared database), so a waiter
        costs no polling; a deleted session or agent takes its requests along (NotFound).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        changed = asyncio.Event()

        def on_event(event: Any) -> None:
            if event.workspace_id == workspace_id and (
                    event.type in WAKING_EVENTS or event.type.startswith("input_request.")
                    and event.data.get("id") == request_id):
                changed.set()

        unsubscribe = self.events.subscribe(on_event)  # before the read, so no change falls between
        wakers = [changed] + ([until] if until is not None else [])
        try:
            while True:
                changed.clear()
                request = await self.get(workspace_id, request_id)
                left = deadline - loop.time()
                if request["status"] != "pending" or left <= 0 or (until is not None and until.is_set()):
                    return request
                waits = [asyncio.ensure_future(e.wait()) for e in wakers]
                try:
                    await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
        finally:
            unsubscribe()

    async def pending_with_expiry(self) -> list[dict[str, Any]]:
        return [r for r in await self.store.all("input_requests", {"status": "pending"}) if r.get("expires_at")]
