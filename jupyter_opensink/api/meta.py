"""/v1/discovery and /v1/request-logs: what a credential can do, and what was asked of the server."""

from __future__ import annotations

from ..models.runtime_extras import Discovery, RequestLogEntry, RequestLogFilters
from .call import Call
from .paging import render_page
from .routing import ADMIN, ANY, Json, Page, Route


async def discovery(call: Call) -> dict:
    return await call.services.discovery.describe(call.principal)


async def request_logs(call: Call) -> dict:
    p = call.paging()
    filters = call.query(RequestLogFilters).filters()
    page = await call.services.request_log.list(filters, limit=p.limit, after=p.after, order=p.order)
    return render_page(page, p.order)


ROUTES = [
    Route("GET", "/discovery", discovery, ANY,
          "What the calling credential can see and do: workspace, scopes, access and counts per resource, "
          "server version, features.",
          Json(Discovery), tag="meta"),
    Route("GET", "/request-logs", request_logs, ADMIN,
          "Recent API requests of every workspace (filters: status, path prefix, key_id, since).",
          Page(RequestLogEntry), tag="meta", query=RequestLogFilters),
]
