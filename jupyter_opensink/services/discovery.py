"""What a credential can see and do: its workspace, scopes, per-resource access and counts, the server.

Agents call it once at start to learn whether their key fits the job; the
client and the JupyterLab panels use it to tell whether the server is there.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..store import Store
from .access import RESOURCES, Principal, grants
from .workspaces import Workspaces

#: The table counted for each scope resource.
TABLE_OF = {
    "sinks": "sinks", "sink_items": "sink_items", "agents": "agents",
    "agent_configurations": "agent_configurations", "agent_sessions": "agent_sessions",
    "agent_session_input_requests": "input_requests", "agent_session_activities": "activities",
    "background_jobs": "background_jobs", "states": "states", "webhooks": "webhooks",
}
FEATURES = ("events", "idempotency_keys", "states", "webhooks", "execution_deliveries", "request_log", "openapi",
            "docs_page", "approval_links", "mcp", "approval_policies", "audit_log", "notebook_runs")


class Discovery:
    def __init__(self, store: Store, workspaces: Workspaces):
        self.store = store
        self.workspaces = workspaces
        self.features: list[str] = list(FEATURES)  # the app drops those switched off by its configuration

    async def describe(self, principal: Principal) -> dict[str, Any]:
        workspace = await self.workspaces.get(principal.workspace_id)
        scopes = ["all:all"] if principal.is_user else list(principal.scopes)
        access: dict[str, dict[str, bool]] = {}
        counts: dict[str, int] = {}
        for resource in RESOURCES:
            read, write = (grants(scopes, resource, "read"), grants(scopes, resource, "write"))
            if principal.sink_id is not None:  # a sink secret may only add items to its sink
                read, write = False, resource == "sink_items"
            access[resource] = {"read": read, "write": write}
            table = TABLE_OF.get(resource)
            if read and table is not None:
                counts[resource] = await self.store.count(table, {"workspace_id": principal.workspace_id})
        if principal.is_user:
            caller = {"type": "jupyter_user", "user": principal.user_name}
        elif principal.sink_id is not None:
            caller = {"type": "sink_secret", "sink_id": principal.sink_id}
        else:
            caller = {"type": "api_key", "key_id": principal.key_id}
        return {
            "workspace": {"id": workspace["id"], "name": workspace["name"],
                          "is_default": workspace.get("default_marker") is not None},
            "caller": {**caller, "scopes": scopes},
            "scopes": scopes,
            "version": __version__,
            "access": access,
            "counts": counts,
            "server": {"name": "jupyter_opensink", "version": __version__},
            "features": list(self.features),
        }
