"""Deleting an object together with everything that belongs to it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..store import Delete, Doc, Store

CHUNK = 500


async def delete_with_children(store: Store, table: str, doc_id: str,
                               children: Sequence[tuple[str, dict[str, Any]]], *, chunk: int | None = None) -> Doc:
    """Delete the children (``(table, where)``) in chunks, then the object with the last chunk.

    Chunks keep the event loop responsive for objects with many children; a
    crash between chunks leaves the object in place with fewer children, and
    deleting it again finishes the job.
    """
    chunk = chunk or CHUNK
    pending: list[Delete] = []
    for child_table, where in children:
        while True:
            page = await store.query(child_table, where, limit=chunk)
            ops = [Delete(child_table, d["id"]) for d in page.items]
            if not ops:
                break
            if len(pending) + len(ops) > chunk:
                await store.batch(pending)
                pending = []
            if page.next_after is None:
                pending.extend(ops)
                break
            await store.batch(ops)
    done = await store.batch([*pending, Delete(table, doc_id)])
    return done[-1]
