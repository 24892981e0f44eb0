"""The store interface: reads, writes, paging, constraints, files on disk."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from tinydb import TinyDB

from jupyter_opensink import ids
from jupyter_opensink.errors import Conflict, CorruptDatabase, NotFound, StoreError, StoreLocked
from jupyter_opensink.store import Delete, Insert, Require, TinyStore, Update, open_postgres
from jupyter_opensink.store.journal import list_segments

from .specs import SPECS


def _factory(tmp_path: Path, backend: str, request):
    opened: list = []
    url = request.getfixturevalue("pg_database") if backend == "postgres" else None

    async def factory(fsync: str = "never", **kwargs):
        if url is not None:
            store = open_postgres(url, SPECS, fsync=fsync)
            await store.connect()
        else:
            store = TinyStore.open(tmp_path / "db", SPECS, fsync=fsync, **kwargs)
        opened.append(store)
        return store

    def close_all():
        for store in opened:
            if not store._closed:
                asyncio.get_event_loop().run_until_complete(store.close(snapshot=False))

    return factory, close_all


@pytest.fixture(params=["tinydb", "postgres"])
def open_store(tmp_path: Path, request):
    """An async factory: ``await open_store()`` opens (or reopens) the test database, on each backend."""
    factory, close_all = _factory(tmp_path, request.param, request)
    yield factory
    close_all()


@pytest.fixture
def open_tiny(tmp_path: Path, request):
    """Like ``open_store``, for what only the embedded store has (files, journal, compaction)."""
    factory, close_all = _factory(tmp_path, "tinydb", request)
    yield factory
    close_all()


async def test_insert_assigns_id_and_timestamps(open_store):
    store = await open_store()
    doc = await store.insert("sinks", {"name": "alerts", "workspace_id": "w"})
    assert ids.UUID7_RE.match(doc["id"])
    assert doc["created_at"] == doc["updated_at"]
    assert doc["created_at"].endswith("Z") and ids.parse_time(doc["created_at"])
    assert await store.get("sinks", doc["id"]) == doc
    assert await store.get("sinks", "missing") is None


async def test_reads_are_copies(open_store):
    store = await open_store()
    doc = await store.insert("sinks", {"name": "a", "tags": ["x"]})
    got = await store.get("sinks", doc["id"])
    got["tags"].append("changed")
    assert (await store.get("sinks", doc["id"]))["tags"] == ["x"]


async def test_update_merges_top_level_fields(open_store):
    store = await open_store()
    doc = await store.insert("sinks", {"name": "a", "state": {"x": 1, "y": 2}})
    await asyncio.sleep(0.002)
    updated = await store.update("sinks", doc["id"], {"state": {"x": 3}})
    assert updated["name"] == "a"
    assert updated["state"] == {"x": 3}  # objects are replaced whole
    assert updated["updated_at"] > doc["updated_at"]
    assert updated["created_at"] == doc["created_at"]
    with pytest.raises(NotFound):
        await store.update("sinks", "nope", {"name": "b"})
    with pytest.raises(ValueError):
        await store.update("sinks", doc["id"], {"id": "other"})


async def test_delete_returns_the_document(open_store):
    store = await open_store()
    doc = await store.insert("items", {"sink_id": "s", "title": "t"})
    assert await store.delete("items", doc["id"]) == doc
    assert await store.get("items", doc["id"]) is None
    assert await store.count("items", {"sink_id": "s"}) == 0
    with pytest.raises(NotFound):
        await store.delete("items", doc["id"])


async def test_duplicate_id_is_a_conflict(open_store):
    store = await open_store()
    await store.insert("sinks", {"id": "fixed", "name": "a"})
    with pytest.raises(Conflict):
        await store.insert("sinks", {"id": "fixed", "name": "b"})
    # Many inserts in one batch (PostgreSQL sends them together): a taken id or a repeated one undoes them all.
    for ids_ in (["n1", "n2", "fixed", "n3"], ["n1", "n2", "n1"]):
        with pytest.raises(Conflict, match=f"sinks {'fixed' if 'fixed' in ids_ else 'n1'} already exists"):
            await store.batch([Insert("sinks", {"id": i, "name": i}) for i in ids_])
        assert await store.count("sinks") == 1
    done = await store.batch([Insert("sinks", {"id": f"m{i}", "n": i}) for i in range(5)] + [
        Insert("items", {"id": "i1"}), Update("sinks", "m0", {"n": 10}), Insert("sinks", {"id": "m5"})])
    assert [d["id"] for d in done] == ["m0", "m1", "m2", "m3", "m4", "i1", "m0", "m5"]
    assert [d["n"] for d in done[:5]] == [0, 1, 2, 3, 4] and done[6]["n"] == 10
    assert await store.count("sinks") == 7 and (await store.get("sinks", "m3"))["n"] == 3


async def test_unique_fields(open_store):
    store = await open_store()
    a = await store.insert("sinks", {"name": "a", "public_slug": "news"})
    await store.insert("sinks", {"name": "no slug", "public_slug": None})
    await store.insert("sinks", {"name": "no slug either", "public_slug": None})  # null is never taken
    with pytest.raises(Conflict, match="public_slug"):
        await store.insert("sinks", {"name": "b", "public_slug": "news"})
    b = await store.insert("sinks", {"name": "b", "public_slug": "other"})
    with pytest.raises(Conflict):
        await store.update("sinks", b["id"], {"public_slug": "news"})
    await store.update("sinks", a["id"], {"public_slug": "renamed"})
    await store.update("sinks", b["id"], {"public_slug": "news"})  # freed by the rename
    await store.delete("sinks", b["id"])
    await store.insert("sinks", {"name": "c", "public_slug": "news"})  # freed by the delete


async def test_an_insert_can_require_another_document(open_store):
    store = await open_store()
    sink = await store.insert("sinks", {"name": "s", "workspace_id": "w1"})
    ours = Require("sinks", sink["id"], {"workspace_id": "w1"}, "sink not found")
    item = await store.insert("items", {"sink_id": sink["id"], "n": 1}, requires=ours)
    assert await store.get("items", item["id"]) == item
    for other in (Require("sinks", sink["id"], {"workspace_id": "w2"}, "sink not found"),
                  Require("sinks", sink["id"], {"workspace_id": None}, "sink not found"),
                  Require("sinks", "missing", {}, "sink not found")):
        with pytest.raises(NotFound, match="^sink not found$"):
            await store.insert("items", {"sink_id": sink["id"], "n": 2}, requires=other)
    assert await store.count("items") == 1
    with pytest.raises(NotFound, match="sinks missing not found"):  # the default message
        await store.insert("items", {"n": 3}, requires=Require("sinks", "missing"))
    # The requirement is checked first: a document that could not be stored anyway is still NotFound.
    with pytest.raises(NotFound):
        await store.insert("items", {"n": 2**70}, requires=Require("sinks", "missing"))
    # A taken id with the requirement met is the usual Conflict.
    with pytest.raises(Conflict):
        await store.insert("items", {"id": item["id"]}, requires=ours)
    # JSON types stay apart, as in queries: "1" is not 1.
    numbered = await store.insert("sinks", {"name": "n", "workspace_id": 1})
    with pytest.raises(NotFound):
        await store.insert("items", {"n": 4}, requires=Require("sinks", numbered["id"], {"workspace_id": "1"}))
    await store.insert("items", {"n": 4}, requires=Require("sinks", numbered["id"], {"workspace_id": 1}))
    # Only indexed fields can be required (a backend checks them in the write's own statement).
    with pytest.raises(ValueError, match="indexed"):
        await store.insert("items", {"n": 5}, requires=Require("sinks", sink["id"], {"name": "s"}))
    # In a batch, a requirement that does not hold undoes every op.
    with pytest.raises(NotFound):
        await store.batch([Insert("items", {"id": "b1"}, ours),
                           Insert("items", {"id": "b2"}, Require("sinks", sink["id"], {"workspace_id": "w2"}))])
    assert await store.get("items", "b1") is None
    assert await store.count("items") == 2


async def test_query_pages_newest_first_and_oldest_first(open_store):
    store = await open_store()
    made = [await store.insert("items", {"sink_id": "s" if i % 2 else "t", "title": str(i)}) for i in range(25)]
    in_s = [d["id"] for d in made if d["sink_id"] == "s"]

    async def collect(order: str, limit: int) -> list[str]:
        seen, after = [], None
        while True:
            page = await store.query("items", {"sink_id": "s"}, limit=limit, after=after, order=order)
            seen.extend(d["id"] for d in page.items)
            if page.next_after is None:
                return seen
            after = page.next_after

    assert await collect("desc", 5) == in_s[::-1]
    assert await collect("asc", 4) == in_s
    assert await collect("asc", 12) == in_s  # an exact multiple of the page size ends with next_after None
    page = await store.query("items", limit=100)
    assert [d["id"] for d in page.items] == [d["id"] for d in made][::-1] and page.next_after is None


async def test_paging_never_skips_or_repeats_while_writing(open_store):
    store = await open_store()
    original = [(await store.insert("items", {"sink_id": "s", "n": i}))["id"] for i in range(40)]
    seen, after = [], None
    while True:
        page = await store.query("items", {"sink_id": "s"}, limit=7, after=after)
        seen.extend(d["id"] for d in page.items)
        # Writes between pages: new items, a deletion of an already-seen one, an update.
        await store.insert("items", {"sink_id": "s", "n": -1})
        if page.items:
            await store.update("items", page.items[0]["id"], {"n": 99})
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == original[::-1]


async def test_query_filters(open_store):
    store = await open_store()
    await store.insert("items", {"sink_id": "s", "type": "a", "flag": True, "n": 1})
    await store.insert("items", {"sink_id": "s", "type": "b", "flag": 1, "n": 2})
    await store.insert("items", {"sink_id": "u", "type": "a", "flag": True, "n": 3})
    # Non-indexed equality is checked too, and JSON types stay apart (True is not 1).
    page = await store.query("items", {"sink_id": "s", "flag": True})
    assert [d["n"] for d in page.items] == [1]
    page = await store.query("items", {"type": "a"}, match=lambda d: d["n"] > 1)
    assert [d["n"] for d in page.items] == [3]
    assert await store.count("items", {"sink_id": "s"}) == 2
    assert await store.count("items", {"sink_id": "s", "type": "b"}) == 1
    assert await store.count("items", {"sink_id": "nobody"}) == 0
    with pytest.raises(ValueError):
        await store.query("items", limit=0)
    with pytest.raises(ValueError):
        await store.query("nope")


async def test_batch_is_all_or_nothing(open_store):
    store = await open_store()
    keep = await store.insert("sinks", {"name": "keep", "public_slug": "k"})
    with pytest.raises(NotFound):
        await store.batch([
            Insert("sinks", {"id": "new-1", "name": "n"}),
            Update("sinks", keep["id"], {"name": "changed"}),
            Delete("sinks", keep["id"]),
            Delete("sinks", "missing"),
        ])
    assert await store.get("sinks", "new-1") is None
    assert await store.get("sinks", keep["id"]) == keep
    with pytest.raises(Conflict):
        await store.batch([Insert("sinks", {"name": "x", "public_slug": "dup"}),
                           Insert("sinks", {"name": "y", "public_slug": "dup"})])
    assert await store.count("sinks") == 1
    # Operations in one batch see each other's effects.
    done = await store.batch([Insert("sinks", {"id": "a", "name": "a"}), Update("sinks", "a", {"name": "b"})])
    assert done[1]["name"] == "b"
    await store.close()
    store = await open_store()
    assert await store.get("sinks", "new-1") is None
    assert (await store.get("sinks", "a"))["name"] == "b"
    assert (await store.get("sinks", keep["id"]))["name"] == "keep"


async def test_writes_survive_reopen_with_and_without_snapshot(open_tiny, tmp_path):
    store = await open_tiny(fsync="always")
    a = await store.insert("sinks", {"name": "a", "workspace_id": "w"})
    await store.close(snapshot=False)  # like a crash: only the journal holds the write
    assert not (tmp_path / "db" / "opensink.json").exists()
    store = await open_tiny()
    assert await store.get("sinks", a["id"]) == a
    b = await store.insert("items", {"sink_id": a["id"], "title": "t"})
    await store.close()  # writes a snapshot and drops the covered journal
    segments = list_segments(tmp_path / "db")
    assert all((path.stat().st_size == 0) for _, path in segments)
    store = await open_tiny()
    assert await store.get("items", b["id"]) == b
    assert await store.all("items", {"sink_id": a["id"]}) == [b]


async def test_snapshot_is_a_plain_tinydb_database(open_tiny, tmp_path):
    store = await open_tiny()
    sink = await store.insert("sinks", {"name": "a", "workspace_id": "w"})
    items = [await store.insert("items", {"sink_id": sink["id"], "title": f"t{i}"}) for i in range(3)]
    await store.close()
    with TinyDB(tmp_path / "db" / "opensink.json", access_mode="r") as db:
        assert db.table("sinks").all() == [sink]
        assert sorted(d["id"] for d in db.table("items").all()) == sorted(d["id"] for d in items)
        assert db.table("_opensink").all()[0]["format"] == 1


async def test_database_written_by_tinydb_itself_loads(tmp_path):
    path = tmp_path / "db"
    path.mkdir()
    with TinyDB(path / "opensink.json") as db:
        db.table("sinks").insert({"id": "s1", "name": "made by hand", "public_slug": "hand"})
        db.table("legacy").insert({"id": "l1", "value": 1})
    store = TinyStore.open(path, SPECS, fsync="never")
    try:
        assert (await store.get("sinks", "s1"))["name"] == "made by hand"
        with pytest.raises(Conflict):
            await store.insert("sinks", {"name": "x", "public_slug": "hand"})
        assert (await store.get("legacy", "l1"))["value"] == 1  # undeclared tables are kept
    finally:
        await store.close()
    with TinyDB(path / "opensink.json", access_mode="r") as db:
        assert db.table("legacy").all()[0]["id"] == "l1"


async def test_torn_last_line_is_dropped_with_a_warning(open_tiny, tmp_path, caplog):
    store = await open_tiny(fsync="always")
    kept = await store.insert("sinks", {"name": "kept"})
    await store.close(snapshot=False)
    _, last = list_segments(tmp_path / "db")[-1]
    with open(last, "ab") as fh:
        fh.write(b'3f2a91c0 [["p","sinks",{"id":"torn","na')  # the process died mid-write
    with caplog.at_level(logging.WARNING):
        store = await open_tiny()
    assert "torn write" in caplog.text and last.name in caplog.text
    assert await store.get("sinks", kept["id"]) == kept
    assert await store.get("sinks", "torn") is None
    later = await store.insert("sinks", {"name": "later"})
    await store.close(snapshot=False)
    store = await open_tiny()  # the torn segment is read again, still fine
    assert await store.get("sinks", later["id"]) == later


async def test_damaged_line_inside_the_journal_is_an_error(open_tiny, tmp_path):
    store = await open_tiny()
    await store.insert("sinks", {"name": "a"})
    await store.insert("sinks", {"name": "b"})
    await store.close(snapshot=False)
    _, last = list_segments(tmp_path / "db")[-1]
    data = bytearray(last.read_bytes())
    data[12] ^= 0x20  # flip a bit inside the first line
    last.write_bytes(bytes(data))
    with pytest.raises(CorruptDatabase, match=last.name):
        await open_tiny()


async def test_corrupt_snapshot_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "db"
    path.mkdir()
    (path / "opensink.json").write_text('{"sinks": {"1": {"id": "x"')
    with pytest.raises(CorruptDatabase, match="opensink.json"):
        TinyStore.open(path, SPECS)


async def test_second_owner_is_refused(open_tiny, tmp_path):
    store = await open_tiny()
    with pytest.raises(StoreLocked, match="in use by another process"):
        TinyStore.open(tmp_path / "db", SPECS)
    code = ("import sys\nfrom jupyter_opensink.store import TinyStore\n"
            "from jupyter_opensink.errors import StoreLocked\n"
            f"try:\n    TinyStore.open({str(tmp_path / 'db')!r}, [])\n"
            "except StoreLocked as e:\n    print('locked:', e)\n    sys.exit(3)\n")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert other.returncode == 3, other.stderr
    assert "in use by another process" in other.stdout
    await store.close()
    (await open_tiny()).stats()  # free again once closed


async def test_closed_store_refuses_writes(open_store):
    store = await open_store()
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.insert("sinks", {"name": "late"})


async def test_compaction_while_writing_keeps_everything(open_tiny):
    store = await open_tiny(fsync="always")
    for start in range(0, 3000, 500):
        await store.batch([Insert("items", {"sink_id": "s", "n": i}) for i in range(start, start + 500)])
    written: list[str] = []

    async def writer(k: int) -> None:
        for i in range(150):
            written.append((await store.insert("items", {"sink_id": "w", "n": k * 1000 + i}))["id"])
            if i % 10 == 0:
                await store.update("items", written[-1], {"touched": True})

    await asyncio.gather(store.compact(), *(writer(k) for k in range(4)))
    await store.compact()
    await store.close(snapshot=False)
    store = await open_tiny()
    assert await store.count("items", {"sink_id": "s"}) == 3000
    assert {d["id"] for d in await store.all("items", {"sink_id": "w"})} == set(written)


async def test_automatic_compaction_bounds_the_journal(open_tiny, tmp_path):
    store = await open_tiny(compact_min_bytes=50_000, compact_ratio=0.0)
    for _ in range(600):
        await store.insert("items", {"sink_id": "s", "title": "x" * 200})
    await store._wait_compaction()
    assert (tmp_path / "db" / "opensink.json").exists()
    journal = sum(p.stat().st_size for _, p in list_segments(tmp_path / "db"))
    assert journal < 160_000  # without compaction it would hold all ~170 KB
    assert store.stats()["tables"]["items"] == 600


def test_waiting_for_a_compaction_that_just_finished_returns(tmp_path):
    """A compaction task can finish before its done callback (which clears it) has run. Awaiting a finished
    task does not yield to the loop, so the wait used to spin forever there (seen as a store close that
    never returned). Checked in a thread, so a spinning wait fails the test instead of hanging the run."""
    import threading

    outcome: list[str] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        store = TinyStore.open(tmp_path / "db", SPECS, fsync="never")

        async def scenario() -> None:
            finished = asyncio.ensure_future(asyncio.sleep(0))
            await asyncio.sleep(0.01)  # done; its callbacks (none yet) have had their turn
            finished.add_done_callback(store._compaction_done)  # scheduled, not yet run: the race
            store._compaction = finished
            await store._wait_compaction()
            await store.close()
            outcome.append("returned")

        try:
            loop.run_until_complete(scenario())
        finally:
            loop.close()

    waiter = threading.Thread(target=run, daemon=True)
    waiter.start()
    waiter.join(10)
    assert outcome == ["returned"], "the wait for a finished compaction did not return"
