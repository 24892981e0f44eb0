"""Ask a human in one step: the session (and agent) an input request needs, made when missing.

An agent that reaches the workspace through a tool protocol (MCP) usually
has neither an agent nor a session of its own yet; asking should not take
three calls first. Each object made on the way needs the same scope the HTTP
API asks for it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import Invalid
from .access import Principal
from .agents import Agents
from .sessions import InputRequests, Sessions

#: The answer's form when a question offers decisions and asks for nothing more: no fields (approve sends {}).
DECISION_ONLY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
#: The answer's form when a question offers neither a schema nor decisions (the hosted API's kind of request).
DEFAULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "title": "Approve"},
        "comment": {"type": "string", "title": "Comment"},
    },
    "required": ["approved"],
}


class Asking:
    def __init__(self, agents: Agents, sessions: Sessions, input_requests: InputRequests):
        self.agents = agents
        self.sessions = sessions
        self.input_requests = input_requests
        #: (workspace, name) -> [lock, users]: first questions asked at once under a new name make one agent.
        self._naming: dict[tuple[str, str], list[Any]] = {}

    async def _agent_named(self, principal: Principal, name: str) -> dict[str, Any]:
        entry = self._naming.setdefault((principal.workspace_id, name), [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                return await self._find_or_make_agent(principal, name)
        finally:
            entry[1] -= 1
            if not entry[1]:
                del self._naming[(principal.workspace_id, name)]

    async def _find_or_make_agent(self, principal: Principal, name: str) -> dict[str, Any]:
        """The workspace's oldest agent of that name, or a new one.

        An agent with an execution endpoint is not taken by name: the answer would be delivered to
        its endpoint, which never started this session (the caller names it by agent_id instead).
        """
        principal.require("agents:read")
        page = await self.agents.list(principal.workspace_id, {"name": name}, limit=1, after=None, order="asc")
        if page.items:
            agent = page.items[0]
            if agent.get("execution_endpoint"):
                raise Invalid(f"agent_name: agent {name!r} ({agent['id']}) has an execution endpoint, which would "
                              "be called with the answer: pass its agent_id to ask as that agent, or another name")
            return agent
        principal.require("agents:write")
        return await self.agents.create(principal.workspace_id, {"name": name, "description": None,
                                                                  "execution_endpoint": None})

    async def session_for(self, principal: Principal, *, session_id: str | None, agent_id: str | None,
                          agent_name: str) -> dict[str, Any]:
        """The given session, or a new one of the given (or named) agent."""
        workspace_id = principal.workspace_id
        if session_id:
            principal.require("agent_sessions:read")
            session = await self.sessions.get(workspace_id, session_id)
            if agent_id and session["agent_id"] != agent_id:
                raise Invalid("agent_id: this agent does not own the session")
            return session
        agent = (await self.agents.get(workspace_id, agent_id) if agent_id
                 else await self._agent_named(principal, agent_name))
        principal.require("agent_sessions:write")
        return await self.sessions.create(workspace_id, {"agent_id": agent["id"], "status": "running",
                                                         "state": {}, "metadata": {}, "error_message": None})

    async def ask(self, principal: Principal, values: dict[str, Any], *, session_id: str | None = None,
                  agent_id: str | None = None, agent_name: str) -> dict[str, Any]:
        """A pending input request (``values``: key, title, message, schema, expires_at, and the decision
        fields: defaults, context, decisions)."""
        principal.require("agent_session_input_requests:write")
        session = await self.session_for(principal, session_id=session_id, agent_id=agent_id, agent_name=agent_name)
        return await self.input_requests.create(principal.workspace_id, {
            **values, "session_id": session["id"], "agent_id": session["agent_id"],
            "schema": values.get("schema") or (DECISION_ONLY_SCHEMA if values.get("decisions") else DEFAULT_SCHEMA)})
