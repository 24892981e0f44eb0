"""Calling an agent's execution endpoint, and the record of every attempt."""

from __future__ import annotations

import logging
import time
from typing import Any

from .scoping import get_owned, scoped
from .. import ids
from ..errors import Conflict, NotFound
from ..runtime.events import EventBus
from ..runtime.outbound import Outbound, Outcome
from ..store import Delete, Page, Store, TableSpec
from .decisions import answer
from .notebook_agents import NotebookAgents
from .notebook_runs import NotebookRuns
from .secrets import agent_callback_secret
from .sessions import OUTBOX, Sessions
from .workspaces import Workspaces

log = logging.getLogger(__name__)
LEASE_MARGIN_SECONDS = 60  # beyond the callback timeout, before a shared outbox entry counts as abandoned
TABLES = [TableSpec("execution_deliveries", indexes=("session_id", "agent_id", "workspace_id", "request_id"))]


def callback_request(endpoint: dict[str, Any], secret: str, *, session_id: str | None,
                     request_id: str | None, extra_body: dict[str, Any] | None = None) -> tuple[dict[str, str], Any]:
    """Headers and body for a call to ``endpoint``: configured values first, ours on top."""
    headers = dict(endpoint.get("headers") or {})
    headers["X-OpenSink-Secret"] = secret
    if session_id is not None:
        headers["X-OpenSink-Session-Id"] = session_id
    if request_id is not None:
        headers["X-OpenSink-Request-Id"] = request_id
    body = None
    if endpoint.get("method", "POST") != "GET":
        body = {**(endpoint.get("body") or {}), **(extra_body or {})}
        if session_id is not None:
            body["session_id"] = session_id  # configured body fields never override the ids
        if request_id is not None:
            body["request_id"] = request_id
    return headers, body


class ExecutionDeliveries:
    def __init__(self, store: Store, outbound: Outbound, workspaces: Workspaces, sessions: Sessions,
                 events: EventBus, notebook_agents: NotebookAgents, notebook_runs: NotebookRuns):
        self.store = store
        self.outbound = outbound
        self.workspaces = workspaces
        self.sessions = sessions
        self.events = events
        self.notebook_agents = notebook_agents
        self.notebook_runs = notebook_runs

    async def call_agent(self, agent: dict[str, Any], *, session_id: str | None = None,
                         request_id: str | None = None, trigger: str = "input_request",
                         extra_body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One attempt at the agent's endpoint, recorded whatever happens; returns the record.

        The signature's ``webhook-id`` is the request's id when there is one, so a call repeated
        after a crash carries the same id and the agent can tell it is the same answer.
        """
        endpoint = agent["execution_endpoint"]
        method = endpoint.get("method", "POST")
        workspace = await self.workspaces.get(agent["workspace_id"])
        secret = agent_callback_secret(workspace, agent)
        delivery_id = ids.new_id()
        if secret is None:  # stored before agents had secrets, in a workspace since switched to them
            outcome = Outcome(endpoint["url"], method, None, "the agent has no execution secret of its own "
                              "yet: rotate it (POST /v1/agents/{id}/rotate-secret) and give it to the agent", 0.0)
        else:
            headers, body = callback_request(endpoint, secret, session_id=session_id, request_id=request_id,
                                             extra_body=extra_body)
            outcome = await self.outbound.send(method, endpoint["url"], headers=headers, body=body,
                                               secret=secret, message_id=request_id or delivery_id)
        record = await self.store.insert("execution_deliveries", {
            "id": delivery_id, "workspace_id": agent["workspace_id"], "agent_id": agent["id"],
            "session_id": session_id, "request_id": request_id, "trigger": trigger, "url": outcome.url,
            "method": outcome.method, "status_code": outcome.status_code, "error": outcome.error,
            "duration_ms": outcome.duration_ms,
        })
        self.events.emit("execution.delivered", agent["workspace_id"], record)
        return record

    async def on_resolved(self, request: dict[str, Any]) -> None:
        """The human answered: call the agent; a failed call fails the session, saying why.

        The request's outbox entry is cleared only once that is settled, so a crash before
        then means the call is made at the next start (``unsent``).
        """
        agent = await self.store.get("agents", request["agent_id"])
        if agent is not None and not await self.notebook_agents.reachable(agent):
            await self.notebook_agents.hold(request, agent)  # its outbox entry stays: delivered when it is back
            return
        if agent is not None and agent.get("execution_notebook"):
            await self._run_notebook(agent, request)
        elif agent is not None and agent.get("execution_endpoint"):  # without one, the agent polls instead
            endpoint = agent["execution_endpoint"]
            try:
                record = await self.call_agent(agent, session_id=request["session_id"], request_id=request["id"],
                                               extra_body={"answer": answer(request)})
                error = record["error"]
            except Exception as exc:  # never leave the session waiting on a call nobody will make
                log.exception("the callback for input request %s failed", request["id"])
                error = f"the call failed inside the server: {type(exc).__name__}"
            if error is not None:
                await self.sessions.fail(request["workspace_id"], request["session_id"],
                                         f"execution endpoint {endpoint.get('method', 'POST')} {endpoint['url']}: "
                                         f"{error}")
        if await self.store.get(OUTBOX, request["id"]) is not None:
            try:
                await self.store.batch([Delete(OUTBOX, request["id"])])
            except NotFound:
                pass  # cleared at the same moment (a shared database)

    async def _run_notebook(self, agent: dict[str, Any], request: dict[str, Any]) -> None:
        """An agent that is a notebook: the answer starts a run of it, with what a callback's body carries as
        parameters, asking on the request's session. The run is recorded before this returns, so the answer is
        handed over (its outbox entry can go); a run that cannot start fails the session, saying why."""
        try:
            await self.notebook_runs.start(agent["workspace_id"], agent["execution_notebook"], agent_id=agent["id"],
                                           session_id=request["session_id"], parameters={
                                               "session_id": request["session_id"], "request_id": request["id"],
                                               "answer": answer(request)})
        except Exception as exc:
            log.warning("the notebook of agent %s could not start for request %s: %s", agent["id"], request["id"],
                        exc)
            await self.sessions.fail(request["workspace_id"], request["session_id"],
                                     f"execution notebook {agent['execution_notebook'].get('path')}: {exc}")

    async def on_agent_updated(self, agent: dict[str, Any]) -> None:
        """A notebook agent serving again (online, with an endpoint): its held answers are delivered, once."""
        if not agent.get("kernel_id") or agent.get("offline") or not agent.get("execution_endpoint"):
            return
        for request in await self.notebook_agents.claim_held(agent):
            await self.on_resolved(request)

    async def unsent(self) -> list[dict[str, Any]]:
        """Resolved requests whose callback a stop or crash interrupted; forgets those deleted since.

        On a database shared with other servers, an entry younger than a callback can last may
        be another server's call in flight: it is left alone. An older one is claimed (a
        compare-and-set on ``claimed_at``) so that only one server sends it again.
        """
        pending = []
        shared = self.store.shared
        cutoff = ids.format_time(time.time() - self.outbound.timeout - LEASE_MARGIN_SECONDS)
        for entry in await self.store.all(OUTBOX):
            request = await self.store.get("input_requests", entry["id"])
            if request is None:
                try:
                    await self.store.batch([Delete(OUTBOX, entry["id"])])
                except NotFound:
                    pass
                continue
            if shared:
                if (entry.get("claimed_at") or entry["created_at"]) > cutoff:
                    continue
                try:
                    await self.store.update(OUTBOX, entry["id"], {"claimed_at": ids.now_iso()},
                                            expect={"claimed_at": entry.get("claimed_at")})
                except (Conflict, NotFound):
                    continue  # another server claimed it, or sent it meanwhile
            pending.append(request)
        return pending

    async def list(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        return await self.store.query("execution_deliveries", scoped(workspace_id, filters), limit=limit,
                                      after=after, order=order)

    async def get(self, workspace_id: str, delivery_id: str) -> dict[str, Any]:
        return await get_owned(self.store, "execution_deliveries", delivery_id, workspace_id, "execution delivery")
