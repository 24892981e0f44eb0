"""The journal on its own: preallocated segments, their zero tail, group commit."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import pytest

from jupyter_opensink.errors import CorruptDatabase
from jupyter_opensink.store import TinyStore
from jupyter_opensink.store.journal import (PREALLOCATE_MIN, Journal, encode_line, list_segments, read_segment,
                                            segment_length)

from .specs import SPECS

preallocating = pytest.mark.skipif(not hasattr(__import__("os"), "posix_fallocate"),
                                   reason="no posix_fallocate on this platform")


def crashed_copy(source: Path, target: Path) -> Path:
    """The database files as a crash would leave them right now (the open store's lock is not copied)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("lock"))
    return target


@preallocating
async def test_an_open_segment_is_preallocated_and_its_zero_tail_is_not_data(tmp_path, caplog):
    store = TinyStore.open(tmp_path / "db", SPECS, fsync="always")
    try:
        docs = [await store.insert("sinks", {"name": f"s{i}"}) for i in range(3)]
        _, segment = list_segments(tmp_path / "db")[-1]
        data = segment_length(segment)
        assert segment.stat().st_size >= PREALLOCATE_MIN > data > 0
        assert segment.read_bytes()[data:].strip(b"\0") == b""
        copy = crashed_copy(tmp_path / "db", tmp_path / "crashed")
    finally:
        await store.close(snapshot=False)
    with caplog.at_level(logging.WARNING):
        reopened = TinyStore.open(copy, SPECS, fsync="always")
    try:
        assert "torn" not in caplog.text
        for doc in docs:
            assert await reopened.get("sinks", doc["id"]) == doc
        later = await reopened.insert("sinks", {"name": "later"})
    finally:
        await reopened.close(snapshot=False)
    again = TinyStore.open(copy, SPECS)
    try:
        assert await again.get("sinks", later["id"]) == later
    finally:
        await again.close(snapshot=False)


@preallocating
async def test_a_closed_segment_keeps_no_zero_tail(tmp_path):
    store = TinyStore.open(tmp_path / "db", SPECS, fsync="always")
    await store.insert("sinks", {"name": "a"})
    await store.compact()  # rotates: the segment it covers is cut to its data, then deleted
    await store.insert("sinks", {"name": "b"})
    await store.close(snapshot=False)
    for _, segment in list_segments(tmp_path / "db"):
        assert segment.stat().st_size == segment_length(segment)
        assert segment.read_bytes().endswith(b"\n")


def test_a_torn_line_before_the_zero_tail_is_dropped_with_a_warning(tmp_path, caplog):
    segment = tmp_path / "journal.00000001.log"
    kept = encode_line(b'[["p","sinks",{"id":"kept"}]]')
    segment.write_bytes(kept + b'3f2a91c0 [["p","sinks",{"id":"torn","na' + b"\0" * 100_000)
    with caplog.at_level(logging.WARNING):
        assert list(read_segment(segment)) == [b'[["p","sinks",{"id":"kept"}]]']
    assert "torn write at line 2" in caplog.text


def test_a_damaged_line_followed_by_an_intact_one_is_an_error_despite_the_zero_tail(tmp_path):
    segment = tmp_path / "journal.00000001.log"
    first, second = encode_line(b'[["p","sinks",{"id":"a"}]]'), encode_line(b'[["p","sinks",{"id":"b"}]]')
    damaged = first[:12] + bytes([first[12] ^ 0x20]) + first[13:]
    segment.write_bytes(damaged + second + b"\0" * 70_000)
    with pytest.raises(CorruptDatabase, match=segment.name):
        list(read_segment(segment))


def test_segment_length_skips_a_long_zero_tail(tmp_path, caplog):
    segment = tmp_path / "journal.00000001.log"
    line = encode_line(b"[]")
    segment.write_bytes(line * 3 + b"\0" * 300_000)  # longer than one block read backwards
    assert segment_length(segment) == 3 * len(line)
    segment.write_bytes(b"\0" * 200_000)
    assert segment_length(segment) == 0
    with caplog.at_level(logging.WARNING):
        assert list(read_segment(segment)) == []
    assert "torn" not in caplog.text
    segment.write_bytes(b"")
    assert segment_length(segment) == 0


async def test_a_preallocated_segment_never_written_is_removed_on_open(tmp_path, caplog):
    db = tmp_path / "db"
    store = TinyStore.open(db, SPECS, fsync="always")
    doc = await store.insert("sinks", {"name": "a"})
    await store.close(snapshot=False)
    empty = db / "journal.00000009.log"
    empty.write_bytes(b"\0" * PREALLOCATE_MIN)  # opened by a process killed before its first write
    with caplog.at_level(logging.WARNING):
        store = TinyStore.open(db, SPECS)
    try:
        assert not empty.exists() and "torn" not in caplog.text
        assert await store.get("sinks", doc["id"]) == doc
    finally:
        await store.close(snapshot=False)


@preallocating
async def test_segments_grow_past_their_preallocation(tmp_path):
    journal = Journal(tmp_path, 1, fsync="always")
    try:
        payload = b"x" * 1000
        tickets = [journal.append(payload) for _ in range(3 * PREALLOCATE_MIN // 1000)]
        await journal.durable(tickets[-1])
        assert journal.size == len(tickets) * len(encode_line(payload))
    finally:
        journal.close()
    (_, segment), = list_segments(tmp_path)
    assert segment.stat().st_size == journal.size
    assert list(read_segment(segment)) == [payload] * len(tickets)


async def test_writers_arriving_during_an_fdatasync_share_the_next_one(tmp_path, monkeypatch):
    """Every durable write returns after an fdatasync that started after its line was written, and the
    writers of one loop iteration share one."""
    import jupyter_opensink.store.journal as journal_module

    journal = Journal(tmp_path, 1, fsync="always")
    syncs: list[int] = []  # lines written when each fdatasync started
    real = journal_module._datasync

    def counting(fd: int) -> None:
        syncs.append(journal._appended)
        real(fd)

    monkeypatch.setattr(journal_module, "_datasync", counting)
    try:
        async def writer(n: int) -> None:
            for _ in range(20):
                ticket = journal.append(b"[%d]" % n)
                await journal.durable(ticket)
                assert any(upto >= ticket for upto in syncs)

        await asyncio.gather(*(writer(n) for n in range(8)))
        assert journal._synced == journal._appended == 160
        assert len(syncs) < 160  # shared
    finally:
        journal.close()


async def test_a_failed_fdatasync_fails_the_waiting_writers_and_later_writes(tmp_path, monkeypatch):
    import jupyter_opensink.store.journal as journal_module
    from jupyter_opensink.errors import StoreFailed

    journal = Journal(tmp_path, 1, fsync="always")

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(journal_module, "_datasync", failing)
    try:
        tickets = [journal.append(b"[1]"), journal.append(b"[2]")]
        results = await asyncio.gather(*(journal.durable(t) for t in tickets), return_exceptions=True)
        assert all(isinstance(r, StoreFailed) for r in results)
        with pytest.raises(StoreFailed):
            journal.append(b"[3]")
    finally:
        journal.close()
