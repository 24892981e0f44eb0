"""Domain rules, one module per resource. Nothing here knows about HTTP or tornado."""

from __future__ import annotations

from ..store import Store, TableSpec
from . import keys, workspaces
from .keys import ApiKeys
from .workspaces import Workspaces

TABLES: list[TableSpec] = [*workspaces.TABLES, *keys.TABLES]


class Services:
    """Every service, built once per server over one store."""

    def __init__(self, store: Store):
        self.store = store
        self.workspaces = Workspaces(store)
        self.api_keys = ApiKeys(store, self.workspaces)

    async def start(self) -> None:
        await self.workspaces.default_id()

    async def stop(self) -> None:
        await self.api_keys.drain()
