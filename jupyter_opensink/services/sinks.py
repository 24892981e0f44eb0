"""Sinks and their items: durable records agents write and people read."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import orjson
from pydantic import ValidationError

from .scoping import get_owned, scoped
from .. import ids
from ..errors import Conflict, Invalid, NotFound, Unauthorized
from ..models.common import shaper, validation_messages
from ..models.sinks import ItemCreate, PublicSink
from ..runtime.events import EventBus
from ..store import Insert, Page, Require, Store, TableSpec
from .access import Principal
from .cascade import delete_with_children
from .secrets import new_token

TABLES = [
    TableSpec("sinks", indexes=("workspace_id",), unique=("public_slug",)),
    TableSpec("sink_items", indexes=("sink_id", "workspace_id", "type"), search=("title", "body", "fields"),
              walk=("sink_id",)),  # a page of one sink is one range of its index, however large the table
]
PUBLIC_ITEMS = 50


def render(doc: dict[str, Any]) -> dict[str, Any]:
    """The sink as every read shows it: one stored before sinks recorded their creator has no owner."""
    return doc if "owner_id" in doc else {**doc, "owner_id": None}


class Sinks:
    def __init__(self, store: Store, events: EventBus):
        self.store = store
        self.events = events

    async def create(self, workspace_id: str, values: dict[str, Any], *,
                     owner_id: str | None) -> dict[str, Any]:
        """``owner_id``: who creates it (``Principal.owner_id``), kept for the sink's life."""
        if values.get("public_slug") is not None:
            await self._slug_free(values["public_slug"])
        doc = await self.store.insert("sinks", {
            "workspace_id": workspace_id, **values, "owner_id": owner_id, "secret": "sks_" + new_token(24),
        })
        self.events.emit("sink.created", workspace_id, doc)
        return doc

    async def _slug_free(self, slug: str, sink_id: str | None = None) -> None:
        taken = await self.store.query("sinks", {"public_slug": slug}, limit=1)
        if taken.items and taken.items[0]["id"] != sink_id:
            raise Conflict(f"public_slug {slug!r} is already taken")

    async def get(self, workspace_id: str, sink_id: str) -> dict[str, Any]:
        return render(await get_owned(self.store, "sinks", sink_id, workspace_id, "sink"))

    async def list(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        page = await self.store.query("sinks", scoped(workspace_id, filters), limit=limit, after=after,
                                      order=order)
        return Page([render(doc) for doc in page.items], page.next_after)

    async def update(self, workspace_id: str, sink_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        await self.get(workspace_id, sink_id)
        if changes.get("public_slug") is not None:
            await self._slug_free(changes["public_slug"], sink_id)
        doc = render(await self.store.update("sinks", sink_id, changes))
        self.events.emit("sink.updated", workspace_id, doc)
        return doc

    async def delete(self, workspace_id: str, sink_id: str) -> dict[str, Any]:
        await self.get(workspace_id, sink_id)
        doc = render(await delete_with_children(self.store, "sinks", sink_id,
                                                [("sink_items", {"sink_id": sink_id})]))
        self.events.emit("sink.deleted", workspace_id, doc)
        return doc

    async def principal_for_secret(self, sink_id: str, secret: str) -> Principal:
        """Who a caller holding a sink's ingest secret is: a writer of that one sink's items."""
        doc = await self.store.get("sinks", sink_id)
        if doc is None or not hmac.compare_digest(doc["secret"].encode(), secret.encode()):
            raise Unauthorized("invalid sink secret")
        return Principal(workspace_id=doc["workspace_id"], is_user=False, scopes=("sink_items:write",),
                         sink_id=sink_id)

    async def public(self, slug: str) -> dict[str, Any]:
        page = await self.store.query("sinks", {"public_slug": slug}, limit=1)
        sink = page.items[0] if page.items else None
        if sink is None or not sink.get("is_public"):
            raise NotFound(f"no public sink {slug!r}")
        items = await self.store.query("sink_items", {"sink_id": sink["id"]}, limit=PUBLIC_ITEMS)
        # Only what the PublicSink model declares: never the secret or the workspace.
        return shaper(PublicSink)({"sink": sink, "items": items.items})


def occurred_filter(after: str | None, before: str | None) -> Callable[[dict[str, Any]], bool] | None:
    """The predicate for the time window (None without one); times are canonical UTC strings."""
    if not (after or before):
        return None

    def matches(item: dict[str, Any]) -> bool:
        occurred = item.get("occurred_at") or ""
        return (not after or occurred > after) and (not before or occurred < before)

    return matches


class SinkItems:
    def __init__(self, store: Store, sinks: Sinks, events: EventBus):
        self.store = store
        self.sinks = sinks
        self.events = events

    @staticmethod
    def _new_doc(workspace_id: str, sink_id: str, values: dict[str, Any], now: str) -> dict[str, Any]:
        # The store would stamp created_at itself, a moment later than ``now``: an item with no
        # occurred_at must read as occurring the very millisecond it was created.
        values = {**values, "sink_id": sink_id, "workspace_id": workspace_id, "created_at": now}
        values["occurred_at"] = values.get("occurred_at") or now
        return values

    async def create(self, workspace_id: str, sink_id: str, values: dict[str, Any]) -> dict[str, Any]:
        # The sink must be this workspace's: checked by the insert itself (one database round trip).
        sink = Require("sinks", sink_id, {"workspace_id": workspace_id}, f"sink {sink_id} not found")
        doc = await self.store.insert("sink_items", self._new_doc(workspace_id, sink_id, values, ids.now_iso()),
                                      requires=sink)
        self.events.emit("item.created", workspace_id, doc)
        return doc

    async def create_many(self, workspace_id: str, raw_items: list[Any], *,
                          only_sink: str | None = None) -> dict[str, Any]:
        """All valid: every item is created in one atomic write. Any invalid: none is."""
        invalid: list[dict[str, Any]] = []
        docs: list[dict[str, Any]] = []
        known_sinks: dict[str, bool] = {}
        now = ids.now_iso()
        for raw in raw_items:
            try:
                parsed = ItemCreate.model_validate_json(orjson.dumps(raw))
            except ValidationError as exc:
                invalid.append({"item": raw, "errors": validation_messages(exc)})
                continue
            except TypeError:  # not storable as JSON: an integer over 64 bits
                invalid.append({"item": raw, "errors": ["a number is too large (integers are limited to 64 bits)"]})
                continue
            sink_id = parsed.sink_id
            if sink_id not in known_sinks:
                try:
                    await self.sinks.get(workspace_id, sink_id)
                    known_sinks[sink_id] = only_sink in (None, sink_id)
                except NotFound:
                    known_sinks[sink_id] = False
            if not known_sinks[sink_id]:
                invalid.append({"item": raw, "errors": [f"sink_id: sink {sink_id} not found"]})
                continue
            values = parsed.values()
            values.pop("sink_id")
            docs.append(self._new_doc(workspace_id, sink_id, values, now))
        if invalid:
            return {"created": [], "failed": [], "invalid": invalid}
        try:
            created = await self.store.batch([Insert("sink_items", d) for d in docs])
        except (Invalid, Conflict) as exc:
            return {"created": [], "failed": [{"item": raw, "error": exc.message} for raw in raw_items],
                    "invalid": []}
        for doc in created:
            self.events.emit("item.created", workspace_id, doc)
        return {"created": created, "failed": [], "invalid": []}

    async def get(self, workspace_id: str, item_id: str) -> dict[str, Any]:
        return await get_owned(self.store, "sink_items", item_id, workspace_id, "sink item")

    async def list(self, workspace_id: str, *, sink_id: str | None, type: str | None, q: str | None,
                   occurred_after: str | None, occurred_before: str | None,
                   limit: int, after: str | None, order: str) -> Page:
        where = scoped(workspace_id, {"sink_id": sink_id, "type": type})
        return await self.store.query("sink_items", where, limit=limit, after=after, order=order,
                                      match=occurred_filter(occurred_after, occurred_before), search=q or None)

    async def update(self, workspace_id: str, item_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        current = await self.get(workspace_id, item_id)
        if "sink_id" in changes:
            if changes.pop("sink_id") != current["sink_id"]:
                raise Invalid("sink_id cannot change: create the item in the other sink instead")
        doc = await self.store.update("sink_items", item_id, changes)
        self.events.emit("item.updated", workspace_id, doc)
        return doc

    async def delete(self, workspace_id: str, item_id: str) -> dict[str, Any]:
        await self.get(workspace_id, item_id)
        doc = await self.store.delete("sink_items", item_id)
        self.events.emit("item.deleted", workspace_id, doc)
        return doc

