"""Workspaces: the tenants every other object belongs to."""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, NotFound
from ..store import Store, TableSpec
from .secrets import callback_secret_mode, new_execution_secret

TABLES = [TableSpec("workspaces", unique=("default_marker",))]
DEFAULT_NAME = "Default workspace"


def render(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["id"],
        "name": doc["name"],
        "execution_secret": doc["execution_secret"],
        "callback_secret": callback_secret_mode(doc),
        "is_default": doc.get("default_marker") is not None,
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
    }


class Workspaces:
    def __init__(self, store: Store):
        self.store = store
        self._default_id: str | None = None

    async def default_id(self) -> str:
        """The default workspace, created the first time anyone needs it."""
        if self._default_id is None:
            page = await self.store.query("workspaces", {"default_marker": "default"}, limit=1)
            if page.items:
                self._default_id = page.items[0]["id"]
            else:
                try:
                    doc = await self.store.insert("workspaces", {
                        "name": DEFAULT_NAME, "execution_secret": new_execution_secret(),
                        "callback_secret": "agent", "default_marker": "default",
                    })
                except Conflict:  # created meanwhile by a concurrent first request
                    return await self.default_id()
                self._default_id = doc["id"]
        return self._default_id

    async def get(self, workspace_id: str) -> dict[str, Any]:
        doc = await self.store.get("workspaces", workspace_id)
        if doc is None:
            raise NotFound(f"workspace {workspace_id} not found")
        return doc

    async def exists(self, workspace_id: str) -> bool:
        return await self.store.get("workspaces", workspace_id) is not None

    async def list(self, *, limit: int, after: str | None, order: str):
        await self.default_id()
        return await self.store.query("workspaces", limit=limit, after=after, order=order)

    async def create(self, name: str, callback_secret: str = "agent") -> dict[str, Any]:
        return await self.store.insert("workspaces", {
            "name": name, "execution_secret": new_execution_secret(), "callback_secret": callback_secret,
            "default_marker": None,
        })

    async def update(self, workspace_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        await self.get(workspace_id)
        return await self.store.update("workspaces", workspace_id, changes)

    async def rotate_secret(self, workspace_id: str) -> dict[str, Any]:
        await self.get(workspace_id)
        return await self.store.update("workspaces", workspace_id, {"execution_secret": new_execution_secret()})
