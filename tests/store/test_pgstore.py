"""What only the PostgreSQL store has: migrations, several stores on one database, exact JSON."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from jupyter_opensink.errors import Conflict, StoreError
from jupyter_opensink.store import Insert, TableSpec, Update
from jupyter_opensink.store.pgstore import MIGRATIONS, PgStore

from .specs import SPECS


@pytest.fixture
def stores(pg_database):
    """``await stores(specs=SPECS, **options)`` -> a connected PgStore on this test's database."""
    opened: list[PgStore] = []

    async def factory(specs=SPECS, **options) -> PgStore:
        store = PgStore(pg_database, specs, fsync="never", **options)
        opened.append(store)
        await store.connect()
        return store

    yield factory
    for store in opened:
        asyncio.get_event_loop().run_until_complete(store.close())


def sql_rows(url: str, statement: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(statement).fetchall()


async def test_documents_come_back_exactly(stores):
    store = await stores()
    doc = {"name": "nul \x00 inside", "big": 2**63 - 1, "small": -(2**63), "float": 1e300, "tiny": 5e-324,
           "nested": {"b": [1, 2.5, None, True], "a": "\u2603"}, "public_slug": "s\x00lug"}
    made = await store.insert("sinks", doc)
    assert await store.get("sinks", made["id"]) == made
    assert (await store.query("sinks", {"public_slug": "s\x00lug"})).items == [made]


async def test_search_matches_the_embedded_semantics(stores):
    specs = [TableSpec("notes", indexes=("owner",), search=("title", "fields"))]
    store = await stores(specs)
    a = await store.insert("notes", {"owner": "x", "title": "Hello World", "fields": {"n": 42, "ok": True}})
    b = await store.insert("notes", {"owner": "x", "title": "hello", "fields": {"k": "world"}, "body": "zzz"})

    async def ids(q, **where):
        return [d["id"] for d in (await store.query("notes", where, search=q, order="asc")).items]

    assert await ids("WORLD") == [a["id"], b["id"]]
    assert await ids("hello world") == [a["id"]]  # b has "hello" and "world" in two parts: no match spans them
    assert await ids("42") == [a["id"]] and await ids("true") == [a["id"]]
    assert await ids("zzz") == []  # body is not a search field
    assert await ids("o", owner="y") == []
    with pytest.raises(ValueError):
        await store.query("sinks", search="x")


async def test_match_pages_through_many_candidates(stores):
    store = await stores()
    made = [await store.insert("items", {"sink_id": "s", "n": i}) for i in range(450)]
    await store.batch([])
    wanted = [d["id"] for d in made if d["n"] % 97 == 0][::-1]
    seen, after = [], None
    while True:
        page = await store.query("items", {"sink_id": "s"}, limit=2, after=after, match=lambda d: d["n"] % 97 == 0)
        seen += [d["id"] for d in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == wanted
    assert await store.count("items", {"sink_id": "s", "n": 97}) == 1  # a non-indexed field counts too


async def test_two_stores_share_one_database(stores):
    one, two = await stores(), await stores()
    made = await one.insert("sinks", {"name": "a", "public_slug": "shared"})
    assert await two.get("sinks", made["id"]) == made
    with pytest.raises(Conflict, match="public_slug"):
        await two.insert("sinks", {"name": "b", "public_slug": "shared"})
    # Compare-and-set across servers: of many concurrent resolves exactly one wins.
    results = await asyncio.gather(
        *(store.batch([Update("sinks", made["id"], {"state": f"won by {k}"}, expect={"state": None})])
          for k, store in enumerate([one, two] * 5)),
        return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))


async def test_servers_starting_together_migrate_once(stores, pg_database):
    started = await asyncio.gather(*(stores() for _ in range(6)))
    assert len(started) == 6
    versions = sql_rows(pg_database, "SELECT version FROM opensink.schema_version ORDER BY version")
    assert [v for (v,) in versions] == sorted(v for v, _, _ in MIGRATIONS)
    tables = {name for (name,) in sql_rows(pg_database, "SELECT name FROM opensink.tables")}
    assert tables == {"sinks", "items"}


async def test_a_newly_declared_index_is_filled_and_a_dropped_unique_is_released(stores, pg_database):
    store = await stores()
    a = await store.insert("items", {"sink_id": "s", "kind": "x"})
    await store.insert("items", {"sink_id": "s", "kind": "y"})
    await store.insert("sinks", {"name": "a", "public_slug": "p"})
    await store.close()
    changed = [TableSpec("sinks", indexes=("workspace_id",)), TableSpec("items", indexes=("sink_id", "kind"))]
    store = await stores(changed)
    assert [d["id"] for d in (await store.query("items", {"kind": "x"})).items] == [a["id"]]
    await store.insert("sinks", {"name": "b", "public_slug": "p"})  # no longer unique
    with pytest.raises(StoreError, match="unique"):
        await stores()  # going back: the data now breaks the declared constraint


async def test_a_database_newer_than_the_code_is_refused(stores, pg_database):
    await stores()
    with psycopg.connect(pg_database) as conn:
        conn.execute("INSERT INTO opensink.schema_version (version, title) VALUES (999, 'from the future')")
    with pytest.raises(StoreError, match="version 999"):
        await stores()


async def test_unreachable_database_is_a_clear_error(pg_cluster):
    store = PgStore(pg_cluster.url("no_such_database"), SPECS)
    with pytest.raises(StoreError, match="cannot open the PostgreSQL database"):
        await store.connect()


async def test_messages_reach_every_listening_store_in_order(stores):
    one, two = await stores(), await stores()
    heard_one: list[str] = []
    heard_two: list[str] = []
    stop_one = await one.listen(heard_one.append)
    stop_two = await two.listen(heard_two.append)
    sent = ["small", "x" * 20_000, "é" * 3000, "after the large ones"]  # over 7000 bytes go through a table
    for message in sent:
        await one.publish(message)
    for _ in range(100):
        if len(heard_one) == len(heard_two) == len(sent):
            break
        await asyncio.sleep(0.05)
    assert heard_two == sent and heard_one == sent  # the sender hears itself too (the relay drops its own)
    await stop_one()
    await stop_two()


async def test_several_messages_published_at_once_arrive_in_order(stores, pg_database):
    one, two = await stores(), await stores()
    heard: list[str] = []
    stop = await two.listen(heard.append)
    sent = ["a", "b", "a", "x" * 20_000, "c", "d", "é" * 3000, "e"]  # "a" twice: both must arrive
    await one.publish_many(sent)
    await one.publish_many([])
    for _ in range(100):
        if len(heard) >= len(sent):
            break
        await asyncio.sleep(0.05)
    assert heard == sent
    assert sql_rows(pg_database, "SELECT count(*) FROM opensink.event_relay") == [(1,)]  # the one over 7000 bytes
    await stop()


def test_the_stores_own_table_names_are_refused():
    with pytest.raises(ValueError, match="schema_version"):
        PgStore("postgresql://unused", [TableSpec("schema_version")])


async def test_a_restart_changes_nothing_and_a_store_without_tables_connects(stores, pg_database):
    """A second start on an up-to-date schema finds nothing to change (the table registry is not rewritten);
    a store declaring no tables of its own still connects (its schema holds only the store's own tables)."""
    store = await stores()
    await store.insert("sinks", {"name": "a", "public_slug": "p"})
    await store.close()
    before = sql_rows(pg_database, "SELECT name, updated_at FROM opensink.tables ORDER BY name")
    store = await stores()
    assert [d["name"] for d in (await store.query("sinks", {})).items] == ["a"]
    assert sql_rows(pg_database, "SELECT name, updated_at FROM opensink.tables ORDER BY name") == before
    await store.close()
    bare = await stores([])
    await bare.close()


async def test_a_page_of_one_sink_walks_its_index(stores, pg_database, monkeypatch):
    """A keyset page reads one range of the (sink, id) index from the cursor on: no scan of the table's
    newest rows filtering out other sinks' items, no sort, whatever the sink's share of the table."""
    specs = [TableSpec("items", indexes=("sink_id", "workspace_id", "type"), walk=("sink_id",))]
    store = await stores(specs)
    for sink in ("old", "new"):  # the old sink's items are all older than the new one's
        for _ in range(6):
            await store.batch([Insert("items", {"sink_id": sink, "workspace_id": "w", "type": "note", "n": i})
                               for i in range(500)])
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("ANALYZE opensink.items")  # the statistics that make a scan of the newest rows look cheap
    statements: list = []
    execute = psycopg.AsyncConnection.execute

    async def recording(self, query, params=None, **kwargs):
        text = query.as_string(self) if hasattr(query, "as_string") else str(query)
        if "ORDER BY" in text:
            statements.append((text, params))
        return await execute(self, query, params, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "execute", recording)
    pages = []
    for sink in ("old", "new"):
        for order in ("desc", "asc"):
            first = await store.query("items", {"workspace_id": "w", "sink_id": sink}, limit=50, order=order)
            second = await store.query("items", {"workspace_id": "w", "sink_id": sink}, limit=50, order=order,
                                       after=first.next_after)
            pages.append((first, second))
    monkeypatch.undo()
    for first, second in pages:  # the pages themselves: 50 + 50 of one sink, no overlap
        got = first.items + second.items
        assert len({d["id"] for d in got}) == 100 and len({d["sink_id"] for d in got}) == 1
    assert len(statements) == 8
    with psycopg.connect(pg_database) as conn:
        sink_index = next(name for name, definition in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'items'") if "(k_sink_id, id)" in definition)
        for statement, params in statements:
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (ANALYZE, COSTS OFF) " + statement, params))
            assert (f"Index Scan Backward using {sink_index} " in plan
                    or f"Index Scan using {sink_index} " in plan), plan
            assert "Seq Scan" not in plan and "Sort" not in plan and "Bitmap" not in plan, plan
            assert "Rows Removed by Filter" not in plan, plan  # the range holds only this sink's rows


@pytest.mark.parametrize("threshold", [5, None])
async def test_statements_are_prepared_unless_told_not_to(stores, threshold):
    """Prepared after five runs on a connection by default; never with ``prepare_threshold=None`` (a pooler in
    transaction mode cannot keep them)."""
    store = await stores(min_size=1, max_size=1, prepare_threshold=threshold)
    made = await store.insert("sinks", {"name": "a", "workspace_id": "w"})
    for _ in range(7):
        assert (await store.get("sinks", made["id"]))["name"] == "a"
        assert len((await store.query("sinks", {"workspace_id": "w"})).items) == 1
    async with store._pool.connection() as conn:
        prepared = [row[0] for row in await (await conn.execute(
            "SELECT statement FROM pg_prepared_statements", prepare=False)).fetchall()]
    if threshold is None:
        assert prepared == []
    else:
        assert any("SELECT doc FROM" in s for s in prepared) and any("ORDER BY" in s for s in prepared)
