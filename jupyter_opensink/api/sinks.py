"""/v1/sinks, /v1/sink-items and the public sink page."""

from __future__ import annotations

from .. import ids
from ..errors import Invalid
from ..models.sinks import (ItemCreate, ItemFields, ItemsMany, ItemUpdate, ManyItems, PublicSink, Sink,
                            SinkCreate, SinkItem, SinkUpdate)
from .crud import create, listing, one, patch
from .call import Call
from .paging import render_page
from .routing import PUBLIC, Route

ROOT = "/opensink"


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


def _time_arg(call: Call, name: str) -> str | None:
    value = call.arg(name)
    if value is None:
        return None
    try:
        return ids.to_iso(ids.parse_time(value))
    except ValueError:
        raise Invalid(f"{name} must be an ISO-8601 time, e.g. 2026-11-25T14:00:00Z") from None


async def list_items(call: Call) -> dict:
    paging = call.paging()
    page = await call.services.sink_items.list(
        call.workspace_id, sink_id=call.arg("sink_id"), type=call.arg("type"), q=call.arg("q"),
        occurred_after=_time_arg(call, "occurred_after"), occurred_before=_time_arg(call, "occurred_before"),
        limit=paging.limit, after=paging.after, order=paging.order)
    return render_page(page, paging.order)


async def public_sink(call: Call) -> dict:
    return await call.services.sinks.public(call.params["slug"])


ROUTES = [
    Route("POST", "/sinks", create("sinks", SinkCreate), "sinks:write", "Create a sink.", body=SinkCreate,
          status=201, tag="sinks", response=Sink, errors=(409,)),
    Route("GET", "/sinks", listing("sinks"), "sinks:read", "List sinks.", tag="sinks", paged=True, response=Sink),
    Route("GET", "/sinks/{id}", one("sinks"), "sinks:read", "Get a sink.", tag="sinks", response=Sink),
    Route("PATCH", "/sinks/{id}", patch("sinks", SinkUpdate), "sinks:write", "Change a sink.", body=SinkUpdate,
          tag="sinks", response=Sink, errors=(409,)),
    Route("DELETE", "/sinks/{id}", one("sinks", "delete"), "sinks:write", "Delete a sink and its items.",
          tag="sinks", response=Sink),
    Route("POST", "/sinks/{sink_id}/items", create_item_in_sink, "sink_items:write",
          "Create an item in this sink (an API key, or the sink's secret in X-OpenSink-Sink-Secret).",
          body=ItemFields, status=201, tag="sink-items", sink_secret=True, response=SinkItem),
    Route("POST", "/sink-items", create_item, "sink_items:write", "Create an item.", body=ItemCreate,
          status=201, tag="sink-items", response=SinkItem),
    Route("POST", "/sink-items/many", create_items, "sink_items:write",
          "Create up to 1000 items: all of them, or none if any is invalid.", body=ItemsMany, tag="sink-items",
          response=ManyItems),
    Route("GET", "/sink-items", list_items, "sink_items:read",
          "List items (filters: sink_id, type, q, occurred_after, occurred_before).", tag="sink-items",
          query=("sink_id", "type", "q", "occurred_after", "occurred_before"), paged=True, response=SinkItem),
    Route("GET", "/sink-items/{id}", one("sink_items"), "sink_items:read", "Get an item.", tag="sink-items",
          response=SinkItem),
    Route("PATCH", "/sink-items/{id}", patch("sink_items", ItemUpdate), "sink_items:write",
          "Change an item (not its sink).", body=ItemUpdate, tag="sink-items", response=SinkItem),
    Route("DELETE", "/sink-items/{id}", one("sink_items", "delete"), "sink_items:write", "Delete an item.",
          tag="sink-items", response=SinkItem),
    Route("GET", "/public/{slug}", public_sink, PUBLIC, "A public sink and its newest items; no credential.",
          tag="public", base=ROOT, response=PublicSink),
]
