"""The request log: one entry per API request, for the Jupyter user to see who called what.

Entries hold no bodies, query strings, credentials or secrets: time, method,
path, status, duration, key id or user, workspace and sizes. They are
buffered and written in one batch per flush (the server flushes every
second), so logging adds no write to any request; retention is bounded by
count and age, enforced at each flush. A read writes what is buffered first:
someone looking for the call that just failed finds it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from .. import ids
from ..errors import Invalid
from ..store import Delete, Insert, Page, Store, TableSpec

TABLES = [TableSpec("request_logs", indexes=("key_id", "workspace_id", "status"))]
PURGE_PAGE = 1000


class RequestLog:
    def __init__(self, store: Store, *, max_entries: int = 100_000, max_age: dt.timedelta = dt.timedelta(days=7)):
        self.store = store
        self.max_entries = max_entries
        self.max_age = max_age
        self._pending: list[dict[str, Any]] = []
        #: Held while buffered entries are on their way to the store: a read that flushes waits for a
        #: periodic flush already writing, or it could miss the entries that flush took from the buffer.
        self._writing = asyncio.Lock()

    def record(self, *, method: str, path: str, status: int, duration_ms: float, key_id: str | None,
               user: str | None, workspace_id: str | None, request_bytes: int, response_bytes: int | None) -> None:
        """Remember one finished request (written at the next flush)."""
        if self.max_entries <= 0:
            return
        self._pending.append({
            "id": ids.new_id(), "at": ids.now_iso(), "method": method, "path": path, "status": status,
            "duration_ms": round(duration_ms, 2), "key_id": key_id, "user": user, "workspace_id": workspace_id,
            "request_bytes": request_bytes, "response_bytes": response_bytes,
        })

    async def flush(self) -> None:
        await self._write_pending()
        await self._enforce_retention()

    async def _write_pending(self) -> None:
        """Store every entry recorded so far (those of requests answered before this call, at least)."""
        async with self._writing:
            pending, self._pending = self._pending, []
            if pending:
                await self.store.batch([Insert("request_logs", entry) for entry in pending])

    async def _enforce_retention(self) -> None:
        cutoff = ids.to_iso(dt.datetime.now(dt.timezone.utc) - self.max_age)
        overflow = await self.store.count("request_logs") - self.max_entries
        if overflow <= 0:  # the usual case: look at the oldest entry alone before reading a page of them
            oldest = await self.store.query("request_logs", {}, limit=1, order="asc")
            if not oldest.items or oldest.items[0]["at"] >= cutoff:
                return
        while True:
            oldest = await self.store.query("request_logs", {}, limit=PURGE_PAGE, order="asc")
            doomed = [e["id"] for i, e in enumerate(oldest.items) if i < overflow or e["at"] < cutoff]
            if doomed:
                await self.store.batch([Delete("request_logs", entry_id) for entry_id in doomed])
                overflow -= len(doomed)
            if len(doomed) < len(oldest.items) or not doomed:
                return

    async def list(self, filters: dict[str, Any], *, limit: int, after: str | None, order: str) -> Page:
        """A page of entries, the buffered ones included (written first; retention waits for the periodic
        flush, so reading costs no purge)."""
        where: dict[str, Any] = {}
        if filters.get("status"):
            status = ids.parse_digits(str(filters["status"]), 3)
            if status is None:
                raise Invalid("status: an HTTP status code, e.g. 404")
            where["status"] = status
        if filters.get("key_id"):
            where["key_id"] = filters["key_id"]
        path, since = filters.get("path"), filters.get("since")
        if since:
            try:
                since = ids.to_iso(ids.parse_time(since))
            except ValueError:
                raise Invalid("since: an ISO 8601 date-time, e.g. 2026-11-25T10:00:00Z") from None

        def wanted(entry: dict[str, Any]) -> bool:
            return (not path or entry["path"].startswith(path)) and (not since or entry["at"] >= since)

        await self._write_pending()
        return await self.store.query("request_logs", where, limit=limit, after=after, order=order,
                                      match=wanted if path or since else None)
