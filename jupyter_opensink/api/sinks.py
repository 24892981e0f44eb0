"""/v1/sinks, /v1/sink-items and the public sink page."""

from __future__ import annotations

from ..models.sinks import (ItemCreate, ItemFields, ItemFilters, ItemsBulk, ItemsMany, ItemUpdate, ManyItems,
                            PublicSink, Sink, SinkCreate, SinkItem, SinkUpdate)
from .auth import SINK_SECRET
from .call import Call
from .crud import listing, one, patch
from .paging import render_page
from .routing import PUBLIC, Json, Page, Route

ROOT = "/opensink"


async def create_sink(call: Call) -> dict:
    return await call.services.sinks.create(call.workspace_id, call.body(SinkCreate).values(),
                                            owner_id=call.principal.owner_id)


async def create_item(call: Call) -> dict:
    values = call.body(ItemCreate).values()
    sink_id = values.pop("sink_id")
    return await call.services.sink_items.create(call.workspace_id, sink_id, values)


async def create_item_in_sink(call: Call) -> dict:
    """The alias the hosted API's own examples use; also the sink-secret ingest route."""
    return await call.services.sink_items.create(call.workspace_id, call.params["sink_id"],
                                                 call.body(ItemFields).values())


async def create_items(call: Call) -> dict:
    body = call.body(ItemsMany)
    return await call.services.sink_items.create_many(call.workspace_id, body.items)


async def create_items_bulk(call: Call) -> dict:
    """/sink-items/many for clients that send the items as a bare array (the hosted API's memory skill)."""
    return await call.services.sink_items.create_many(call.workspace_id, call.body(ItemsBulk).root)


async def list_items(call: Call) -> dict:
    query, paging = call.query(ItemFilters), call.paging()
    page = await call.services.sink_items.list(
        call.workspace_id, sink_id=query.sink_id, type=query.type, q=query.q,
        occurred_after=query.occurred_after, occurred_before=query.occurred_before,
        limit=paging.limit, after=paging.after, order=paging.order)
    return render_page(page, paging.order)


async def public_sink(call: Call) -> dict:
    return await call.services.sinks.public(call.params["slug"])


ROUTES = [
    Route("POST", "/sinks", create_sink, "sinks:write", "Create a sink (its owner_id: who calls).",
          Json(Sink, 201), body=SinkCreate, tag="sinks", errors=(409,)),
    Route("GET", "/sinks", listing(lambda s: s.sinks.list), "sinks:read", "List sinks.", Page(Sink),
          tag="sinks"),
    Route("GET", "/sinks/{id}", one(lambda s: s.sinks.get), "sinks:read", "Get a sink.", Json(Sink),
          tag="sinks"),
    Route("PATCH", "/sinks/{id}", patch(lambda s: s.sinks.update, SinkUpdate), "sinks:write",
          "Change a sink.", Json(Sink), body=SinkUpdate, tag="sinks", errors=(409,)),
    Route("DELETE", "/sinks/{id}", one(lambda s: s.sinks.delete), "sinks:write",
          "Delete a sink and its items.", Json(Sink), tag="sinks"),
    Route("POST", "/sinks/{sink_id}/items", create_item_in_sink, "sink_items:write",
          "Create an item in this sink (an API key, or the sink's secret in X-OpenSink-Sink-Secret).",
          Json(SinkItem, 201), body=ItemFields, tag="sink-items", auth=SINK_SECRET),
    Route("POST", "/sink-items", create_item, "sink_items:write", "Create an item.", Json(SinkItem, 201),
          body=ItemCreate, tag="sink-items"),
    Route("POST", "/sink-items/many", create_items, "sink_items:write",
          "Create up to 1000 items: all of them, or none if any is invalid.", Json(ManyItems), body=ItemsMany,
          tag="sink-items"),
    Route("POST", "/sink-items/bulk", create_items_bulk, "sink_items:write",
          "Alias of POST /sink-items/many taking the items as a plain JSON array instead of {\"items\": [...]}: "
          "the same limits (1 to 1000 items), all or none, the same reply.", Json(ManyItems), body=ItemsBulk,
          tag="sink-items"),
    Route("GET", "/sink-items", list_items, "sink_items:read",
          "List items (filters: sink_id, type, q, occurred_after, occurred_before).", Page(SinkItem),
          tag="sink-items", query=ItemFilters),
    Route("GET", "/sink-items/{id}", one(lambda s: s.sink_items.get), "sink_items:read", "Get an item.",
          Json(SinkItem), tag="sink-items"),
    Route("PATCH", "/sink-items/{id}", patch(lambda s: s.sink_items.update, ItemUpdate), "sink_items:write",
          "Change an item (not its sink).", Json(SinkItem), body=ItemUpdate, tag="sink-items"),
    Route("DELETE", "/sink-items/{id}", one(lambda s: s.sink_items.delete), "sink_items:write",
          "Delete an item.", Json(SinkItem), tag="sink-items"),
    Route("GET", "/public/{slug}", public_sink, PUBLIC, "A public sink and its newest items; no credential.",
          Json(PublicSink), tag="public", base=ROOT),
]
