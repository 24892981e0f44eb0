"""Agents and their configurations (immutable, versioned)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .scoping import get_owned, scoped
from .. import ids
from ..errors import Conflict, Invalid
from ..runtime.events import EventBus
from ..store import Insert, Page, Store, TableSpec, Update
from .cascade import delete_with_children
from .schemas import check_schema, require_valid
from .secrets import new_execution_secret

TABLES = [
    TableSpec("agents", indexes=("workspace_id",)),
    # version_key ("<agent id>:<version>") is unique, so two concurrent creations can never share a version.
    TableSpec("agent_configurations", indexes=("agent_id", "workspace_id"), unique=("version_key",)),
]
#: What belongs to an agent and goes with it.
AGENT_CHILDREN = ("agent_configurations", "approval_links", "input_requests", "activities", "execution_deliveries",
                  "agent_sessions", "approval_policies")


def render_configuration(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "version_key"}


#: Stored, never shown: the secret (shown once, by create and rotate) and how a notebook agent's kernel is
#: recognised (its process, and the server running it).
_UNSHOWN = ("execution_secret", "kernel_pid", "kernel_server", "kernel_host")


class Kernels(Protocol):
    """The kernels of this server, as far as agents need them (the app adapts Jupyter's kernel manager)."""

    #: Who this server is, on a database other servers may share, and its machine.
    server: str
    host: str

    def pid(self, kernel_id: str) -> int | None:
        """The kernel's process id; None when this server runs no such kernel."""

    def process_alive(self, pid: int) -> bool:
        """Whether a process of this machine with that id still runs."""


class Agents:
    def __init__(self, store: Store, events: EventBus):
        self.store = store
        self.events = events
        #: Set by the app: without it (no Jupyter server), a ``kernel_id`` is taken on trust.
        self.kernels: Kernels | None = None
        #: Checks an ``execution_notebook`` and fills its defaults (the notebook runs' service sets it).
        self.check_notebook: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def _targets(self, values: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
        """An agent is called at an endpoint or runs a notebook, never both; a notebook target is checked."""
        merged = {**(current or {}), **values}
        if merged.get("execution_endpoint") is not None and merged.get("execution_notebook") is not None:
            if "execution_notebook" in values and "execution_endpoint" not in values:
                values = {**values, "execution_endpoint": None}  # switching to a notebook
            elif "execution_endpoint" in values and "execution_notebook" not in values:
                values = {**values, "execution_notebook": None}  # switching to an endpoint
            else:
                raise Invalid("give execution_endpoint or execution_notebook, not both")
        if values.get("execution_notebook") is not None and self.check_notebook is not None:
            values = {**values, "execution_notebook": self.check_notebook(values["execution_notebook"])}
        return values

    async def render(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The agent with its derived ``status`` (its newest session's, or null), without its secret:
        that is shown once, by ``create`` and ``rotate_secret``, never in reads, listings or events."""
        newest = await self.store.query("agent_sessions", {"agent_id": doc["id"]}, limit=1)
        shown = {k: v for k, v in doc.items() if k not in _UNSHOWN}
        return {"kernel_id": None, "offline": False, **shown,
                "status": newest.items[0]["status"] if newest.items else None}

    def _registered(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with a notebook agent's kernel checked and recognised: naming a kernel (or none) puts the
        agent online, served by that kernel's process."""
        if "kernel_id" not in values:
            return values
        kernel_id = values["kernel_id"]
        if kernel_id is None:
            return {**values, "kernel_pid": None, "kernel_server": None, "kernel_host": None, "offline": False}
        pid = None
        if self.kernels is not None:
            pid = self.kernels.pid(kernel_id)
            if pid is None:
                raise Invalid(f"kernel_id: this server runs no kernel {kernel_id}")
        return {**values, "kernel_pid": pid, "kernel_server": self.kernels.server if self.kernels else None,
                "kernel_host": self.kernels.host if self.kernels else None, "offline": False}

    async def set_offline(self, agent: dict[str, Any], offline: bool) -> dict[str, Any]:
        """A notebook agent's kernel stopped, restarted or died (or it serves again)."""
        doc = await self.render(await self.store.update("agents", agent["id"], {"offline": offline}))
        self.events.emit("agent.updated", agent["workspace_id"], doc)
        return doc

    async def get_doc(self, workspace_id: str, agent_id: str) -> dict[str, Any]:
        return await get_owned(self.store, "agents", agent_id, workspace_id, "agent")

    async def get(self, workspace_id: str, agent_id: str) -> dict[str, Any]:
        return await self.render(await self.get_doc(workspace_id, agent_id))

    async def create(self, workspace_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """The agent and its default configuration (variant ``default``, version 1), in one write."""
        agent_id, config_id = ids.new_id(), ids.new_id()
        secret = new_execution_secret()
        agent, config = await self.store.batch([
            Insert("agents", {"id": agent_id, "workspace_id": workspace_id, "config_id": config_id,
                              **self._registered(self._targets(values)), "execution_secret": secret}),
            Insert("agent_configurations", {
                "id": config_id, "agent_id": agent_id, "workspace_id": workspace_id, "variant": "default",
                "version": 1, "variant_version": 1, "schema_version": 1, "schema": {}, "value": {},
                "version_key": f"{agent_id}:1",
            }),
        ])
        rendered = await self.render(agent)
        self.events.emit("agent.created", workspace_id, rendered)
        self.events.emit("configuration.created", workspace_id, render_configuration(config))
        return {**rendered, "execution_secret": secret}

    async def rotate_secret(self, workspace_id: str, agent_id: str) -> dict[str, Any]:
        """A new secret for the agent's callbacks (shown this once); the old one stops at once."""
        await self.get_doc(workspace_id, agent_id)
        secret = new_execution_secret()
        doc = await self.render(await self.store.update("agents", agent_id, {"execution_secret": secret}))
        self.events.emit("agent.updated", workspace_id, doc)
        return {**doc, "execution_secret": secret}

    async def list(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        page = await self.store.query("agents", scoped(workspace_id, filters), limit=limit, after=after,
                                      order=order)
        page.items = [await self.render(d) for d in page.items]
        return page

    async def update(self, workspace_id: str, agent_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        current = await self.get_doc(workspace_id, agent_id)
        changes = self._targets(changes, current)
        if "config_id" in changes:
            config = await self.store.get("agent_configurations", changes["config_id"])
            if config is None or config["agent_id"] != agent_id:
                raise Invalid(f"config_id: {changes['config_id']} is not a configuration of this agent")
        doc = await self.render(await self.store.update("agents", agent_id, self._registered(changes)))
        self.events.emit("agent.updated", workspace_id, doc)
        return doc

    async def delete(self, workspace_id: str, agent_id: str) -> dict[str, Any]:
        doc = await self.get(workspace_id, agent_id)
        await delete_with_children(self.store, "agents", agent_id,
                                   [(table, {"agent_id": agent_id}) for table in AGENT_CHILDREN])
        self.events.emit("agent.deleted", workspace_id, doc)
        return doc


class Configurations:
    def __init__(self, store: Store, agents: Agents, events: EventBus):
        self.store = store
        self.agents = agents
        self.events = events

    async def get(self, workspace_id: str, config_id: str) -> dict[str, Any]:
        return render_configuration(await get_owned(self.store, "agent_configurations", config_id, workspace_id,
                                                    "agent configuration"))

    async def _history(self, agent_id: str) -> list[dict[str, Any]]:
        return await self.store.all("agent_configurations", {"agent_id": agent_id})

    async def create(self, workspace_id: str, values: dict[str, Any], *, explicit_schema: bool) -> dict[str, Any]:
        """A new immutable version; it becomes active when it is in the active variant."""
        agent = await self.agents.get_doc(workspace_id, values["agent_id"])
        history = await self._history(agent["id"])
        variant = values["variant"]
        in_variant = [c for c in history if c["variant"] == variant]
        latest = max(in_variant, key=lambda c: c["variant_version"], default=None)
        if explicit_schema:
            schema = values["schema"]
            check_schema(schema)
        else:
            schema = latest["schema"] if latest else {}
        require_valid(schema, values["value"], field="value")
        schema_version = 1 if latest is None else latest["schema_version"] + (schema != latest["schema"])
        version = max((c["version"] for c in history), default=0) + 1
        active = await self.store.get("agent_configurations", agent["config_id"]) if agent.get("config_id") else None
        doc = {
            "id": ids.new_id(), "agent_id": agent["id"], "workspace_id": workspace_id, "variant": variant,
            "version": version, "variant_version": (latest["variant_version"] + 1) if latest else 1,
            "schema_version": schema_version, "schema": schema, "value": values["value"],
            "version_key": f"{agent['id']}:{version}",
        }
        ops: list = [Insert("agent_configurations", doc)]
        activates = active is None or active["variant"] == variant
        if activates:
            ops.append(Update("agents", agent["id"], {"config_id": doc["id"]}))
        try:
            done = await self.store.batch(ops)
        except Conflict:
            raise Conflict("another configuration of this agent was created at the same moment; retry") from None
        created = render_configuration(done[0])
        self.events.emit("configuration.created", workspace_id, created)
        if activates:
            self.events.emit("agent.updated", workspace_id, await self.agents.render(done[1]))
        return created

    async def list(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        page = await self.store.query("agent_configurations", scoped(workspace_id, filters), limit=limit,
                                      after=after, order=order)
        page.items = [render_configuration(d) for d in page.items]
        return page

    async def variants(self, workspace_id: str, agent_id: str) -> list[dict[str, Any]]:
        """The latest configuration of each variant, newest first."""
        await self.agents.get_doc(workspace_id, agent_id)
        latest: dict[str, dict[str, Any]] = {}
        for config in await self._history(agent_id):
            if config["variant"] not in latest or config["variant_version"] > latest[config["variant"]]["variant_version"]:
                latest[config["variant"]] = config
        return [render_configuration(c) for c in sorted(latest.values(), key=lambda c: c["id"], reverse=True)]

    async def active(self, workspace_id: str, agent_id: str) -> dict[str, Any]:
        agent = await self.agents.get_doc(workspace_id, agent_id)
        return await self.get(workspace_id, agent["config_id"])
