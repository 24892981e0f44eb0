"""The on-disk snapshot: a plain TinyDB JSON database.

Anyone can open it with ``tinydb.TinyDB(path, access_mode="r")`` and read
every table. Besides the data tables it holds one table, ``_opensink``, with
the journal position the snapshot covers.

We write it with one document per line so that loading streams it record by
record instead of building the whole file as one Python object (which would
briefly need several times its size in memory). Any other valid TinyDB file
(say, one a person rewrote with TinyDB) loads through TinyDB's own storage.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from tinydb.storages import JSONStorage

from ..errors import CorruptDatabase
from .journal import fsync_directory
from .tables import stored_json

SNAPSHOT_NAME = "opensink.json"
META_TABLE = "_opensink"
FORMAT = 1
_META_PREFIX = b'{"' + META_TABLE.encode() + b'": {"1": '


@dataclass
class Snapshot:
    meta: dict[str, Any] = field(default_factory=lambda: {"format": FORMAT, "replay_after": 0})
    tables: dict[str, dict[str, bytes]] = field(default_factory=dict)  # table -> id -> raw doc

    @property
    def replay_after(self) -> int:
        return int(self.meta.get("replay_after", 0))


class _NotStreamable(Exception):
    """The file is not in our one-record-per-line layout."""


def read_snapshot(path: Path) -> Snapshot:
    if not path.exists():
        return Snapshot()
    try:
        return _read_streaming(path)
    except _NotStreamable:
        pass
    try:
        data = JSONStorage(str(path), access_mode="r").read()
    except (ValueError, OSError) as exc:
        raise CorruptDatabase(f"{path}: not a readable TinyDB database ({exc})") from exc
    return _from_tinydb(path, data or {})


def _doc_id(path: Path, table: str, raw: bytes) -> str:
    try:
        doc_id = orjson.loads(raw).get("id")
    except (orjson.JSONDecodeError, AttributeError) as exc:
        raise _NotStreamable() from exc
    if not isinstance(doc_id, str):
        raise CorruptDatabase(f"{path}: a document in table {table!r} has no string 'id'")
    return doc_id


def _read_streaming(path: Path) -> Snapshot:
    snap = Snapshot()
    table: dict[str, bytes] | None = None
    table_name = ""
    closed = False
    with open(path, "rb") as fh:
        first = fh.readline()
        if not first.startswith(_META_PREFIX) or not first.endswith(b"}\n"):
            raise _NotStreamable()
        try:
            snap.meta = orjson.loads(first[len(_META_PREFIX):-2])
        except orjson.JSONDecodeError as exc:
            raise _NotStreamable() from exc
        for line in fh:
            if closed or not line.endswith(b"\n"):
                raise _NotStreamable()
            if table is None:
                if line == b"}\n":
                    closed = True
                    continue
                if not (line.startswith(b',"') and line.endswith(b'": {\n')):
                    raise _NotStreamable()
                table_name = line[2:-5].decode()
                table = snap.tables.setdefault(table_name, {})
                continue
            if line == b"}\n":
                table = None
                continue
            start = 1 if line.startswith(b",") else 0
            sep = line.find(b'": ', start)
            if sep < 0 or line[start:start + 1] != b'"' or not line[start + 1:sep].isdigit():
                raise _NotStreamable()
            raw = line[sep + 3:-1]
            table[_doc_id(path, table_name, raw)] = raw
    if not closed:
        raise _NotStreamable()
    return snap


def _from_tinydb(path: Path, data: dict[str, Any]) -> Snapshot:
    snap = Snapshot()
    for name, rows in data.items():
        if not isinstance(rows, dict):
            raise CorruptDatabase(f"{path}: table {name!r} is not a TinyDB table")
        if name == META_TABLE:
            snap.meta = next(iter(rows.values()), snap.meta)
            continue
        table = snap.tables.setdefault(name, {})
        for doc in rows.values():
            if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
                raise CorruptDatabase(f"{path}: a document in table {name!r} has no string 'id'")
            table[doc["id"]] = stored_json(doc)
    return snap


class SnapshotWriter:
    """Writes a new snapshot next to the old one and swaps it in atomically.

    The event loop produces chunks (``table_start``/``records``); the blocking
    file calls are made by whoever calls these methods from a worker thread.
    """

    def __init__(self, path: Path, *, fsync: bool):
        self.path = path
        self.tmp_path = path.with_name(path.name + ".tmp")
        self.fsync = fsync
        self._fh: BinaryIO | None = None

    @staticmethod
    def header(meta: dict[str, Any]) -> bytes:
        return _META_PREFIX + orjson.dumps(meta) + b"}\n"

    @staticmethod
    def table_start(name: str) -> bytes:
        return b',"' + name.encode() + b'": {\n'

    @staticmethod
    def records(first_number: int, raws: Iterable[bytes]) -> bytes:
        """Lines for consecutive TinyDB doc ids starting at ``first_number``."""
        parts = []
        for number, raw in enumerate(raws, start=first_number):
            parts.append(b'%s"%d": %s\n' % (b"," if number > 1 else b"", number, raw))
        return b"".join(parts)

    TABLE_END = b"}\n"
    FOOTER = b"}\n"

    def open(self) -> None:
        self._fh = open(self.tmp_path, "wb")
        os.chmod(self.tmp_path, 0o600)

    def write(self, chunk: bytes) -> None:
        assert self._fh is not None
        self._fh.write(chunk)

    def commit(self) -> int:
        """Make the file durable and put it in place; returns its size."""
        assert self._fh is not None
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())
        size = self._fh.tell()
        self._fh.close()
        self._fh = None
        os.replace(self.tmp_path, self.path)
        if self.fsync:
            fsync_directory(self.path.parent)
        return size

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self.tmp_path.unlink(missing_ok=True)
