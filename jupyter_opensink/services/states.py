"""States: namespaced key-value memory for agents, with versions for conditional writes.

A write with ``if_match`` only succeeds when the stored version is that one,
so two runs of an agent cannot silently overwrite each other (the loser gets
412 and re-reads). Expired states are invisible at once and purged from
storage by ``purge_expired`` (the server runs it periodically).
"""

from __future__ import annotations

import re
from typing import Any

from .. import ids
from ..errors import Conflict, Invalid, NotFound, PreconditionFailed
from ..runtime.events import EventBus
from ..store import Delete, Insert, Page, Store, TableSpec, Update
from .expiring import purge_expired

TABLES = [TableSpec("states", indexes=("workspace_id", "space"), unique=("ref",))]
NAME = re.compile(r"^[A-Za-z0-9._:@~-]{1,255}\Z")


def _check_name(what: str, value: str) -> None:
    if not NAME.match(value):
        raise Invalid(f"{what}: 1 to 255 characters among letters, digits and . _ : @ ~ -")


def _refs(workspace_id: str, namespace: str, key: str = "") -> tuple[str, str]:
    space = f"{workspace_id}/{namespace}"
    return space, f"{space}/{key}"


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("ref", "space")}


class States:
    def __init__(self, store: Store, events: EventBus):
        self.store = store
        self.events = events

    @staticmethod
    def _live(doc: dict[str, Any] | None) -> dict[str, Any] | None:
        if doc is not None and doc.get("expires_at") and doc["expires_at"] <= ids.now_iso():
            return None
        return doc

    async def _find(self, workspace_id: str, namespace: str, key: str) -> dict[str, Any] | None:
        _check_name("namespace", namespace)
        _check_name("key", key)
        page = await self.store.query("states", {"ref": _refs(workspace_id, namespace, key)[1]}, limit=1)
        return page.items[0] if page.items else None

    async def get(self, workspace_id: str, namespace: str, key: str) -> dict[str, Any]:
        doc = self._live(await self._find(workspace_id, namespace, key))
        if doc is None:
            raise NotFound(f"state {namespace}/{key} not found")
        return _public(doc)

    async def put(self, workspace_id: str, namespace: str, key: str, value: Any, *,
                  expires_at: str | None = None, if_match: int | None = None,
                  if_none_match: bool = False) -> tuple[dict[str, Any], bool]:
        """Write the value; returns the state and whether it was created."""
        if expires_at is not None and expires_at <= ids.now_iso():
            raise Invalid("expires_at: must be in the future")
        found = await self._find(workspace_id, namespace, key)
        current = self._live(found)
        if if_none_match and current is not None:
            raise PreconditionFailed(f"state {namespace}/{key} already exists (version {current['version']})")
        if if_match is not None and (current is None or current["version"] != if_match):
            have = f"version {current['version']}" if current is not None else "no such state"
            raise PreconditionFailed(f"If-Match: state {namespace}/{key} is not at version {if_match} ({have})")
        now = ids.now_iso()
        space, ref = _refs(workspace_id, namespace, key)
        try:
            if current is not None:
                (doc,) = await self.store.batch([Update("states", current["id"], {
                    "value": value, "expires_at": expires_at, "version": current["version"] + 1, "updated_at": now,
                }, expect={"version": current["version"]})])
                created = False
            else:
                replace = [Delete("states", found["id"])] if found is not None else []  # an expired leftover
                *_, doc = await self.store.batch([*replace, Insert("states", {
                    "id": ids.new_id(), "workspace_id": workspace_id, "namespace": namespace, "key": key,
                    "space": space, "ref": ref, "value": value, "version": 1, "expires_at": expires_at,
                    "created_at": now, "updated_at": now})])
                created = True
        except Conflict:
            # someone else wrote between our read and our write: with a condition that is a failed
            # precondition; without one the caller asked for last-writer-wins, so write again
            if if_match is not None or if_none_match:
                raise PreconditionFailed(f"state {namespace}/{key} changed while being written") from None
            return await self.put(workspace_id, namespace, key, value, expires_at=expires_at)
        self.events.emit("state.updated", workspace_id, _public(doc))
        return _public(doc), created

    async def delete(self, workspace_id: str, namespace: str, key: str, *,
                     if_match: int | None = None) -> dict[str, Any]:
        current = self._live(await self._find(workspace_id, namespace, key))
        if current is None:
            raise NotFound(f"state {namespace}/{key} not found")
        if if_match is not None and current["version"] != if_match:
            raise PreconditionFailed(f"If-Match: state {namespace}/{key} is at version {current['version']}, "
                                     f"not {if_match}")
        try:
            await self.store.batch([Update("states", current["id"], {}, expect={"version": current["version"]}),
                                    Delete("states", current["id"])])
        except Conflict:
            raise PreconditionFailed(f"state {namespace}/{key} changed while being deleted") from None
        self.events.emit("state.deleted", workspace_id, _public(current))
        return _public(current)

    async def list(self, workspace_id: str, namespace: str, prefix: str | None, *, limit: int, after: str | None,
                   order: str) -> Page:
        _check_name("namespace", namespace)
        now = ids.now_iso()

        def visible(doc: dict[str, Any]) -> bool:
            return ((not prefix or doc["key"].startswith(prefix))
                    and not (doc.get("expires_at") and doc["expires_at"] <= now))

        page = await self.store.query("states", {"space": _refs(workspace_id, namespace)[0]}, limit=limit,
                                      after=after, order=order, match=visible)
        return Page([_public(doc) for doc in page.items], page.next_after)

    async def purge_expired(self) -> int:
        """Remove every expired state from storage; returns how many."""
        return await purge_expired(self.store, "states")
