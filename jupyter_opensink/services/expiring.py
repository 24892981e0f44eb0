"""Removing rows whose ``expires_at`` has passed, for every table that keeps such rows.

What has expired is already ignored when read (a state, a webhook's
de-duplication value, a remembered ``webhook-id``); this only gives the
storage back. The server runs ``Services.purge_expired`` every
``state_purge_seconds``.
"""

from __future__ import annotations

from .. import ids
from ..store import Delete, Store

PURGE_PAGE = 500


async def purge_expired(store: Store, table: str) -> int:
    """Delete every row of ``table`` whose ``expires_at`` is set and past; returns how many."""
    now = ids.now_iso()
    gone = 0
    after = None
    while True:
        page = await store.query(table, {}, limit=PURGE_PAGE, after=after, order="asc")
        expired = [doc for doc in page.items if doc.get("expires_at") and doc["expires_at"] <= now]
        if expired:
            await store.batch([Delete(table, doc["id"]) for doc in expired])
            gone += len(expired)
        if page.next_after is None:
            return gone
        after = page.next_after
