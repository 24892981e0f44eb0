"""Every object belongs to one workspace: reading it from another is a 404, never a leak."""

from __future__ import annotations

from typing import Any

from ..errors import NotFound
from ..store import Store


async def get_owned(store: Store, table: str, doc_id: str, workspace_id: str, label: str) -> dict[str, Any]:
    doc = await store.get(table, doc_id)
    if doc is None or doc.get("workspace_id") != workspace_id:
        raise NotFound(f"{label} {doc_id} not found")
    return doc


def scoped(workspace_id: str, filters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``where`` of a workspace's listing, with the filters that were given."""
    where: dict[str, Any] = {"workspace_id": workspace_id}
    where.update({k: v for k, v in (filters or {}).items() if v is not None and v != ""})
    return where
