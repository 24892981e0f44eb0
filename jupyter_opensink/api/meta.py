"""/v1/discovery and /v1/request-logs: what a credential can do, and what was asked of the server."""

from __future__ import annotations

from ..models.runtime_extras import Discovery, RequestLogEntry
from .call import Call
from .paging import render_page
from .routing import ADMIN, ANY, Route


async def discovery(call: Call) -> dict:
    return await call.services.discovery.describe(call.principal)


async def request_logs(call: Call) -> dict:
    p = call.paging()
    filters = {name: call.arg(name) for name in call.route.query}
    page = await call.services.request_log.list(filters, limit=p.limit, after=p.after, order=p.order)
    return render_page(page, p.order)


ROUTES = [
    Route("GET", "/discovery", discovery, ANY,
          "What the calling credential can see and do: workspace, scopes, access and counts per resource, "
          "server version, features.", tag="meta", response=Discovery),
    Route("GET", "/request-logs", request_logs, ADMIN,
          "Recent API requests of every workspace (filters: status, path prefix, key_id, since).", tag="meta",
          query=("status", "path", "key_id", "since"), paged=True, response=RequestLogEntry),
]
