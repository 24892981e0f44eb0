"""The embedded store: TinyDB snapshot + journal + in-memory indexes.

Write path (event loop thread): validate and apply the change to the
in-memory tables, append one journal line with ``os.write``, then wait for
the group fsync (``always``) before returning. If anything before the append
fails, the in-memory change is undone, so a write that raises changed nothing.

Compaction (in the background) starts a new journal segment, streams every
table into a new TinyDB snapshot in small chunks (the loop builds each chunk
in a few ms; a worker thread writes and fsyncs), swaps it in with
``os.replace``, then deletes the segments it covers. The snapshot is fuzzy
(documents may change while it is written), which is safe because every
journal line holds whole documents: replaying the newer segments over it
always converges to the exact state. A crash at any point loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from .. import ids
from ..errors import Conflict, Invalid, NotFound, StoreError
from .base import Delete, Doc, Insert, Op, Order, Page, Require, Store, TableSpec, Update, check_tables
from .journal import Journal, list_segments, read_segment, segment_length
from .lock import DirectoryLock
from .snapshot import SNAPSHOT_NAME, SnapshotWriter, read_snapshot
from .tables import Table, index_key, stored_json

log = logging.getLogger(__name__)

CHUNK_RECORDS = 4000  # records per snapshot chunk: a few ms of loop time
MAX_LIMIT = 10_000


def _encode(doc: Mapping[str, Any]) -> bytes:
    try:
        return stored_json(doc)
    except TypeError as exc:
        raise Invalid(f"a value cannot be stored as JSON ({exc}); integers are limited to 64 bits") from exc


class TinyStore(Store):
    """See the module docstring. Build one with ``TinyStore.open(...)``."""

    def __init__(self, directory: Path, tables: dict[str, Table], journal: Journal, lock: DirectoryLock,
                 *, fsync: str, snapshot_bytes: int, journal_bytes: int, compact_min_bytes: int,
                 compact_ratio: float, io_executor: ThreadPoolExecutor):
        self.directory = directory
        self.snapshot_path = directory / SNAPSHOT_NAME
        self._tables = tables
        self._journal = journal
        self._lock = lock
        self._fsync = fsync
        self._snapshot_bytes = snapshot_bytes
        self._journal_bytes = journal_bytes  # in segments the current snapshot does not cover
        self.compact_min_bytes = compact_min_bytes
        self.compact_ratio = compact_ratio
        self._io_executor = io_executor
        self._compaction: asyncio.Task | None = None
        self._closed = False
        #: Called with a stage name during compaction; fault-injection tests kill the process there.
        self.compaction_hook: Callable[[str], None] | None = None

    # -- opening ------------------------------------------------------------
    @classmethod
    def open(cls, directory: str | Path, tables: Iterable[TableSpec], *, fsync: str = "always",
             compact_min_bytes: int = 32 * 1024 * 1024, compact_ratio: float = 1.0) -> TinyStore:
        """Load the snapshot, replay the journal and take ownership of ``directory``."""
        directory = Path(directory).expanduser()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = DirectoryLock(directory)
        lock.acquire()
        try:
            return cls._load(directory, check_tables(tables), lock, fsync, compact_min_bytes, compact_ratio)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _load(cls, directory: Path, specs: dict[str, TableSpec], lock: DirectoryLock, fsync: str,
              compact_min_bytes: int, compact_ratio: float) -> TinyStore:
        snapshot_path = directory / SNAPSHOT_NAME
        snapshot_path.with_name(SNAPSHOT_NAME + ".tmp").unlink(missing_ok=True)  # an interrupted compaction
        snap = read_snapshot(snapshot_path)
        raw_tables = snap.tables
        segments = list_segments(directory)
        newer = [(seq, path) for seq, path in segments if seq > snap.replay_after]
        journal_bytes = 0
        for _seq, path in newer:
            size = segment_length(path)  # without the zero tail of a preallocated segment
            if size == 0:
                path.unlink()  # a segment opened but never written
                continue
            journal_bytes += size
            for payload in read_segment(path):
                cls._replay(path, payload, raw_tables)
        for seq, path in segments:
            if seq <= snap.replay_after:
                path.unlink(missing_ok=True)  # left behind by a crash right after a compaction
        tables: dict[str, Table] = {}
        for name in set(specs) | set(raw_tables):
            table = tables[name] = Table(specs.get(name) or TableSpec(name))
            try:
                table.load(raw_tables.get(name, {}))
            except Conflict as exc:
                raise StoreError(f"{directory}: table {name!r} breaks a unique constraint: {exc}") from exc
            if table.order:
                ids.observe(table.order[-1])
        last_seq = max([snap.replay_after] + [seq for seq, _ in segments])
        journal = Journal(directory, last_seq + 1, fsync=fsync)
        snapshot_bytes = snapshot_path.stat().st_size if snapshot_path.exists() else 0
        return cls(directory, tables, journal, lock, fsync=fsync, snapshot_bytes=snapshot_bytes,
                   journal_bytes=journal_bytes, compact_min_bytes=compact_min_bytes,
                   compact_ratio=compact_ratio,
                   io_executor=ThreadPoolExecutor(1, thread_name_prefix="opensink-snapshot"))

    @staticmethod
    def _replay(path: Path, payload: bytes, raw_tables: dict[str, dict[str, bytes]]) -> None:
        """Apply one journal transaction to raw tables (idempotent: whole documents only)."""
        try:
            ops = orjson.loads(payload)
            for op in ops:
                kind, table = op[0], raw_tables.setdefault(op[1], {})
                if kind == "p":
                    table[op[2]["id"]] = stored_json(op[2])
                elif kind == "d":
                    table.pop(op[2], None)
                else:
                    raise ValueError(f"unknown operation {kind!r}")
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise StoreError(f"{path}: cannot replay a transaction ({exc})") from exc

    # -- reads --------------------------------------------------------------
    def _table(self, name: str) -> Table:
        try:
            return self._tables[name]
        except KeyError:
            raise ValueError(f"unknown table {name!r}") from None

    async def get(self, table: str, id: str) -> Doc | None:
        return self._table(table).get(id)

    async def query(self, table: str, where: Mapping[str, Any] | None = None, *, limit: int = 50,
                    after: str | None = None, order: Order = "desc",
                    match: Callable[[Doc], bool] | None = None, search: str | None = None) -> Page:
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if order not in ("asc", "desc"):
            raise ValueError("order must be 'asc' or 'desc'")
        page = Page()
        for doc in self._table(table).scan(where or {}, after, order, match, search):
            if len(page.items) == limit:
                page.next_after = page.items[-1]["id"]
                break
            page.items.append(doc)
        return page

    async def count(self, table: str, where: Mapping[str, Any] | None = None) -> int:
        return self._table(table).count(where or {})

    # -- writes -------------------------------------------------------------
    async def batch(self, ops: Sequence[Op]) -> list[Doc]:
        if self._closed:
            raise StoreError("the database is closed")
        if not ops:
            return []
        undo: list[tuple[Table, str, Doc | None, bytes | None]] = []
        results: list[Doc] = []
        lines: list[bytes] = []
        size_before = self._journal.size
        try:
            now = ids.now_iso()
            for op in ops:
                results.append(self._apply(op, now, undo, lines))
            ticket = self._journal.append(b"[" + b",".join(lines) + b"]")
        except BaseException:
            self._rollback(undo)
            raise
        self._journal_bytes += self._journal.size - size_before
        self._maybe_compact()
        await self._journal.durable(ticket)
        return results

    def _apply(self, op: Op, now: str, undo: list, lines: list[bytes]) -> Doc:
        table = self._table(op.table)
        prefix = b'["p","' + op.table.encode() + b'",'
        if isinstance(op, Insert):
            doc = {"id": op.doc.get("id") or ids.new_id(), **op.doc}
            doc_id = doc["id"]
            if not isinstance(doc_id, str) or not doc_id:
                raise ValueError("id must be a non-empty string")
            if op.requires is not None:
                self._check_required(op.requires)
            if doc_id in table.docs:
                raise Conflict(f"{op.table} {doc_id} already exists")
            doc.setdefault("created_at", now)
            doc.setdefault("updated_at", doc["created_at"])
            old = None
        elif isinstance(op, Update):
            old = table.get(op.id)
            if old is None:
                raise NotFound(f"{op.table} {op.id} not found")
            if op.changes.get("id", op.id) != op.id:
                raise ValueError("id cannot change")
            for field, expected in (op.expect or {}).items():
                if old.get(field) != expected:
                    raise Conflict(f"{op.table} {op.id} has {field} {old.get(field)!r}, not {expected!r}")
            doc = {**old, **op.changes}
            if "updated_at" not in op.changes:
                doc["updated_at"] = now
            doc_id = op.id
        elif isinstance(op, Delete):
            old = table.get(op.id)
            if old is None:
                raise NotFound(f"{op.table} {op.id} not found")
            raw_old = table.docs[op.id]
            table.remove(op.id, old)
            undo.append((table, op.id, old, raw_old))
            lines.append(b'["d","' + op.table.encode() + b'",' + orjson.dumps(op.id) + b"]")
            return old
        else:
            raise TypeError(f"not a store operation: {op!r}")
        table.check_unique(doc_id, doc)
        raw = _encode(doc)
        raw_old = table.docs.get(doc_id)
        table.put(doc_id, raw, doc, old)
        undo.append((table, doc_id, old, raw_old))
        lines.append(prefix + raw + b"]")
        return doc

    def _check_required(self, required: Require) -> None:
        table = self._table(required.table)
        lookups = set(table.spec.indexes) | set(table.spec.unique)
        unknown = [f for f in required.where if f not in lookups]
        if unknown:
            raise ValueError(f"a requirement may only name indexed fields of {required.table}: {unknown}")
        found = table.get(required.id)
        if found is None or any(index_key(found.get(f)) != index_key(v) for f, v in required.where.items()):
            raise NotFound(required.missing())

    def _rollback(self, undo: list) -> None:
        for table, doc_id, old, raw_old in reversed(undo):
            current = table.get(doc_id)
            if current is not None:
                table.remove(doc_id, current)
            if old is not None:
                table.put(doc_id, raw_old, old, None)

    async def flush(self) -> None:
        await self._journal.flush()

    # -- compaction ---------------------------------------------------------
    def _maybe_compact(self) -> None:
        threshold = max(self.compact_min_bytes, self.compact_ratio * self._snapshot_bytes)
        if self._journal_bytes > threshold and self._compaction is None and not self._closed:
            self._compaction = asyncio.ensure_future(self._compact())
            self._compaction.add_done_callback(self._compaction_done)

    def _compaction_done(self, task: asyncio.Task) -> None:
        if self._compaction is not task:
            return  # already settled (by _wait_compaction, before this callback's turn came)
        self._compaction = None
        if not task.cancelled() and task.exception() is not None:
            log.error("compaction failed; the journal keeps every write", exc_info=task.exception())

    async def compact(self) -> None:
        """Write a fresh snapshot now and drop the journal segments it covers."""
        await self._wait_compaction()
        self._compaction = task = asyncio.ensure_future(self._compact())
        task.add_done_callback(self._compaction_done)
        await asyncio.shield(task)

    async def _wait_compaction(self) -> None:
        while (task := self._compaction) is not None:
            if task.done():
                # Finished, but its done callback (which clears it) has not had its turn yet: awaiting a
                # finished task does not yield to the loop, so waiting for the callback would spin forever.
                self._compaction_done(task)
                continue
            try:
                await asyncio.shield(task)
            except Exception:
                pass  # logged by _compaction_done; the journal still holds every write

    def _stage(self, name: str) -> None:
        if self.compaction_hook is not None:
            self.compaction_hook(name)

    async def _compact(self) -> None:
        loop = asyncio.get_running_loop()

        def io(fn, *args):
            return loop.run_in_executor(self._io_executor, fn, *args)

        covered = self._journal.rotate()
        self._journal_bytes = 0
        await self._journal.flush()  # the old segment is fsynced and closed before it can be deleted
        self._stage("rotated")
        writer = SnapshotWriter(self.snapshot_path, fsync=self._fsync == "always")
        await io(writer.open)
        try:
            await io(writer.write, writer.header({"format": 1, "replay_after": covered,
                                                  "written_at": ids.now_iso()}))
            for name, table in self._tables.items():
                await io(writer.write, writer.table_start(name))
                number, after = 1, None
                while True:
                    chunk_ids = table.chunk_after(after, CHUNK_RECORDS)
                    if not chunk_ids:
                        break
                    docs = table.docs
                    raws = [docs[i] for i in chunk_ids if i in docs]
                    await io(writer.write, writer.records(number, raws))
                    number += len(raws)
                    after = chunk_ids[-1]
                await io(writer.write, writer.TABLE_END)
            await io(writer.write, writer.FOOTER)
            self._stage("written")
            self._snapshot_bytes = await io(writer.commit)
        except BaseException:
            await io(writer.abort)
            raise
        self._stage("replaced")
        await io(self._journal.remove_through, covered)
        self._stage("pruned")

    # -- closing ------------------------------------------------------------
    async def close(self, *, snapshot: bool = True) -> None:
        """Flush, write a final snapshot when the journal holds anything, release the lock."""
        if self._closed:
            return
        try:
            await self._wait_compaction()
            await self._journal.flush()
            if snapshot and self._journal_bytes > 0:
                await self.compact()
        finally:
            self._closed = True
            self._journal.close()
            self._io_executor.shutdown()
            self._lock.release()

    def stats(self) -> dict[str, Any]:
        return {
            "tables": {name: len(t.docs) for name, t in self._tables.items()},
            "snapshot_bytes": self._snapshot_bytes,
            "journal_bytes": self._journal_bytes,
            "fsync": self._fsync,
        }
