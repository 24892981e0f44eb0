"""Notebook agents: served by one of this server's kernels, so reachable only while that kernel runs.

A notebook agent registers its endpoint with its kernel's id (``kernel_id``); the server recognises the
kernel by its process. When the kernel stops, restarts or dies, or the server restarts, the agent goes
**offline** instead of pointing at a dead port. An answer to an offline notebook agent is **held**: its
callback waits in the outbox (the same durable entry a crash leaves) until an agent of that name serves
again, then is delivered once; after ``hold_seconds`` the session fails, saying why. Agents with a plain
URL endpoint are not concerned: a failed callback fails their session, as before.
"""

from __future__ import annotations

import time
from typing import Any

from .. import ids
from ..errors import Conflict, NotFound
from ..store import Delete, Store, Update
from .agents import Agents
from .sessions import OUTBOX, Sessions, system_activity


def waited(seconds: float) -> str:
    """A duration as a person says it (90 s, 5 min, 24 h)."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


class NotebookAgents:
    def __init__(self, store: Store, agents: Agents, sessions: Sessions, *, hold_seconds: float = 86400.0):
        self.store = store
        self.agents = agents
        self.sessions = sessions
        self.hold_seconds = hold_seconds

    def _ours(self, agent: dict[str, Any]) -> bool:
        """Served by a kernel of this server (on a shared database, other servers watch their own)."""
        kernels = self.agents.kernels
        return kernels is not None and agent.get("kernel_server") == kernels.server

    def _kernel_gone(self, agent: dict[str, Any]) -> bool:
        """Its kernel's process is not the one that registered: stopped, restarted (a kernel keeps its id, not
        its process) or died. A kernel of another server of this machine (an earlier run of this one) is
        looked at by its process; one of another machine is that machine's server's to watch."""
        kernels = self.agents.kernels
        if kernels is None:
            return False
        if self._ours(agent):
            return kernels.pid(agent["kernel_id"]) != agent.get("kernel_pid")
        pid = agent.get("kernel_pid")
        return agent.get("kernel_host") == kernels.host and isinstance(pid, int) and not kernels.process_alive(pid)

    async def reachable(self, agent: dict[str, Any]) -> bool:
        """Whether a callback to ``agent`` can be made now; a notebook agent found without its kernel goes
        offline here (the watch may not have seen it yet)."""
        if not agent.get("kernel_id"):
            return True
        if agent.get("offline"):
            return False
        if self._kernel_gone(agent):
            await self.agents.set_offline(agent, True)
            return False
        return True

    async def watch(self) -> None:
        """Run now and then (and at start): this server's notebook agents whose kernel stopped, restarted or
        died go offline; held answers that waited too long fail their session."""
        for agent in await self.store.all("agents"):
            if agent.get("kernel_id") and not agent.get("offline") and self._kernel_gone(agent):
                await self.agents.set_offline(agent, True)
        await self.expire_holds()

    async def hold(self, request: dict[str, Any], agent: dict[str, Any]) -> None:
        """Keep the answer for when the agent serves again (its outbox entry stays); the timeline says so once."""
        entry = await self.store.get(OUTBOX, request["id"])
        if entry is None or entry.get("held_at"):
            return
        session = await self.store.get("agent_sessions", request["session_id"])
        ops = [Update(OUTBOX, request["id"], {"held_at": ids.now_iso()}, expect={"held_at": None})]
        if session is not None:
            ops.append(system_activity(
                session, "message", f"The answer waits for the notebook: {agent['name']!r} is offline (its kernel "
                f"stopped or restarted); it is delivered when the agent serves again, for up to "
                f"{waited(self.hold_seconds)}", related_entity_id=request["id"]))
        try:
            done = await self.store.batch(ops)
        except (Conflict, NotFound):
            return  # held (or settled) at the same moment
        self.sessions.emit_activities(request["workspace_id"], done[1:])

    async def claim_held(self, agent: dict[str, Any]) -> list[dict[str, Any]]:
        """The held answers of ``agent``, each claimed once (a compare-and-set on ``held_at``), to deliver now."""
        claimed = []
        for entry in await self.store.all(OUTBOX):
            if not entry.get("held_at"):
                continue
            request = await self.store.get("input_requests", entry["id"])
            if request is None or request["agent_id"] != agent["id"]:
                continue
            try:
                await self.store.update(OUTBOX, entry["id"], {"held_at": None}, expect={"held_at": entry["held_at"]})
            except (Conflict, NotFound):
                continue  # claimed by another release, or settled
            claimed.append(request)
        return claimed

    async def expire_holds(self) -> None:
        cutoff = ids.format_time(time.time() - self.hold_seconds)
        for entry in await self.store.all(OUTBOX):
            if not entry.get("held_at") or entry["held_at"] > cutoff:
                continue
            try:
                await self.store.batch([Delete(OUTBOX, entry["id"])])
            except NotFound:
                continue
            request = await self.store.get("input_requests", entry["id"])
            if request is None:
                continue
            agent = await self.store.get("agents", request["agent_id"])
            name = agent["name"] if agent else "the notebook agent"
            await self.sessions.fail(request["workspace_id"], request["session_id"],
                                     f"the answer waited {waited(self.hold_seconds)} for the notebook agent "
                                     f"{name!r} to serve again (its kernel had stopped); run its cell again "
                                     "and ask anew")
