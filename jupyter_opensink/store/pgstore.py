"""The PostgreSQL store: the same contract as ``TinyStore``, shared by several servers.

Layout (all in one PostgreSQL schema, ``opensink`` by default):

- ``schema_version``: the versioned migrations applied so far (see ``MIGRATIONS``).
- one table per ``TableSpec``: ``id text primary key``, ``doc text`` (the document's exact
  JSON), one ``k_<field>`` text column per indexed or unique field holding that field's
  value as canonical JSON (sorted keys; NULL when the value is null or missing), and a
  ``search`` column (the lower-cased search text) when the spec declares search fields.

Why the document is JSON text and not ``jsonb``: ``jsonb`` refuses strings holding a NUL
character and rewrites numbers (``1e300`` comes back as a 301-digit integer), so a document
would not always come back as it was written. The store never needs PostgreSQL to look
inside a document: every field it filters on server-side is a column. ``doc::jsonb`` still
works in ad hoc SQL for any document without a NUL character.

Equality on an indexed field compares canonical JSON text, so JSON types stay apart exactly
as in ``TinyStore`` (``true`` is not ``1``). Conditions on other fields, ``match`` and the
exact ``search`` check run in Python on rows fetched in id order, chunk by chunk, so paging
stays exact. ``fsync="never"`` turns ``synchronous_commit`` off for the store's sessions.

Schema changes happen in ``open()`` in one transaction holding a transaction-level advisory
lock, so servers starting at the same time take turns and the second finds nothing to do.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from .. import ids
from ..errors import Conflict, Invalid, NotFound, StoreError
from .base import Delete, Doc, Insert, Op, Order, Page, Require, Store, TableSpec, Update, check_tables
from .tables import search_text

log = logging.getLogger(__name__)

MAX_LIMIT = 10_000
SCAN_CHUNK = 200  # rows fetched at a time when Python-side filters apply
MIGRATION_LOCK = 0x6F70656E73696E6B  # "opensink": the advisory lock key around schema changes
_SIMPLE = re.compile(r"^[a-z_][a-z0-9_]{0,40}\Z")


def _key(value: Any) -> str | None:
    """Canonical JSON of an indexed value (None when the value is null or missing)."""
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _encode(doc: Mapping[str, Any]) -> str:
    try:
        return orjson.dumps(doc).decode()
    except TypeError as exc:
        raise Invalid(f"a value cannot be stored as JSON ({exc}); integers are limited to 64 bits") from exc


def column_of(field: str) -> str:
    if _SIMPLE.match(field):
        return "k_" + field
    return "k_" + hashlib.sha1(field.encode()).hexdigest()[:20]


def _index_name(table: str, field: str, kind: str) -> str:
    digest = hashlib.sha1(f"{table}\x00{field}\x00{kind}".encode()).hexdigest()[:16]
    return f"{kind}_{table[:40]}_{digest}"


def _search_prefilter(text: str) -> str:
    return text.replace("\x00", "\x01")  # PostgreSQL text holds no NUL; the exact check runs in Python


def _runs(ops: Sequence[Op]) -> list[Sequence[Op]]:
    """``ops`` cut into runs, in order: consecutive plain inserts into one table together, anything else alone."""
    runs: list[list[Op]] = []
    for op in ops:
        plain = isinstance(op, Insert) and op.requires is None
        last = runs[-1] if runs else None
        if (plain and last and isinstance(last[0], Insert) and last[0].requires is None
                and last[0].table == op.table):
            last.append(op)
        else:
            runs.append([op])
    return runs


# -- versioned migrations ---------------------------------------------------------------
# Each entry runs once, in order, inside the locked migration transaction. Tables declared
# by TableSpecs are reconciled after them on every start (idempotent DDL under the same lock).
MIGRATIONS: list[tuple[int, str, Callable[[psycopg.AsyncCursor, sql.Identifier], Any]]] = []


def migration(version: int, title: str):
    def register(fn):
        MIGRATIONS.append((version, title, fn))
        return fn
    return register


@migration(1, "table registry")
async def _m1(cur: psycopg.AsyncCursor, schema: sql.Identifier) -> None:
    await cur.execute(sql.SQL(
        "CREATE TABLE {}.tables (name text PRIMARY KEY, spec jsonb NOT NULL, "
        "updated_at timestamptz NOT NULL DEFAULT now())").format(schema))


@migration(2, "event relay for large messages")
async def _m2(cur: psycopg.AsyncCursor, schema: sql.Identifier) -> None:
    await cur.execute(sql.SQL(
        "CREATE TABLE {}.event_relay (id bigserial PRIMARY KEY, payload text NOT NULL, "
        "at timestamptz NOT NULL DEFAULT now())").format(schema))


@dataclass
class _Catalog:
    """The schema as the catalog describes it at a start: tables' columns, their indexes, the stored specs."""

    columns: dict[str, set[str]] = field(default_factory=dict)
    indexes: dict[str, set[str]] = field(default_factory=dict)
    specs: dict[str, dict] = field(default_factory=dict)


RESERVED_TABLES = {"schema_version", "tables", "event_relay"}  # the store's own tables in the schema
ANALYZE_AFTER_ROWS = 5000  # rows inserted in bulk (batches of 50+) before the table's statistics are refreshed
NOTIFY_MAX = 7000  # bytes; PostgreSQL's limit is 8000, larger messages go through event_relay
RELAY_KEEP = "10 minutes"
NOTIFY_SQL = ("SELECT set_config('synchronous_commit', 'off', true), pg_notify(%s, m) "
              "FROM unnest(%s::text[]) WITH ORDINALITY AS u(m, i) ORDER BY i")


class PgStore(Store):
    """See the module docstring. Build one with ``PgStore(url, tables)``; it connects on first use."""

    shared = True

    def __init__(self, url: str, tables: Iterable[TableSpec], *, fsync: str = "always", schema: str = "opensink",
                 min_size: int = 1, max_size: int = 10, prepare_threshold: int | None = 5):
        self.url = url
        self.specs = check_tables(tables)
        reserved = set(self.specs) & RESERVED_TABLES
        if reserved:
            raise ValueError(f"table name(s) {', '.join(sorted(reserved))} are used by the PostgreSQL store itself")
        self.fsync = fsync
        self.schema = schema
        self._schema = sql.Identifier(schema)
        self._sizes = (min_size, max_size)
        # psycopg prepares a statement on a connection once it has run there this many times (None: never).
        # The store's statements are few and fixed per table, so each is parsed once per connection.
        self._prepare_threshold = prepare_threshold
        self._pool: AsyncConnectionPool | None = None
        self._opening: asyncio.Lock | None = None
        self._closed = False
        self._sql_cache: dict[tuple, sql.Composed] = {}
        self._published_large = 0
        self._grown: dict[str, int] = {}  # rows inserted per table since its last ANALYZE here
        self._analyzing: set[str] = set()
        self._tasks: set[asyncio.Task] = set()

    # -- connecting and migrating -----------------------------------------------------
    async def connect(self) -> None:
        """Connect, migrate the schema, and check the tables (done by the first call of any method)."""
        await self._ready()

    async def _ready(self) -> AsyncConnectionPool:
        if self._pool is not None:
            return self._pool
        if self._closed:
            raise StoreError("the database is closed")
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                try:  # one direct connection first: a bad URL fails at once with the driver's message
                    async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                        await self._migrate(conn)
                except psycopg.Error as exc:
                    raise StoreError(f"cannot open the PostgreSQL database: {exc}") from exc
                pool = AsyncConnectionPool(self.url, min_size=self._sizes[0], max_size=self._sizes[1], open=False,
                                           kwargs={"autocommit": True, "prepare_threshold": self._prepare_threshold},
                                           configure=self._configure,
                                           name="opensink")
                try:
                    await pool.open(wait=True, timeout=30)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
        return self._pool

    async def _configure(self, conn: psycopg.AsyncConnection) -> None:
        # psycopg prepares statements run often; a generic plan for "sink_id = $1 AND workspace_id = $2"
        # cannot tell a sink with a million items from an empty one. Plan with the actual values.
        await conn.execute("SET plan_cache_mode = force_custom_plan")
        if self.fsync == "never":
            await conn.execute("SET synchronous_commit = off")

    async def _migrate(self, conn: psycopg.AsyncConnection) -> None:
        s = self._schema
        async with conn.transaction(), conn.cursor() as cur:
            await cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s))
            await cur.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.schema_version (version int PRIMARY KEY, title text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT now())").format(s))
            await cur.execute(sql.SQL("SELECT coalesce(max(version), 0) FROM {}.schema_version").format(s))
            current = (await cur.fetchone())[0]
            known = max(v for v, _, _ in MIGRATIONS)
            if current > known:
                raise StoreError(f"the database schema is at version {current}, newer than this code ({known})")
            for version, title, fn in sorted(MIGRATIONS):
                if version > current:
                    log.info("OpenSink: applying database migration %d (%s)", version, title)
                    await fn(cur, s)
                    await cur.execute(sql.SQL("INSERT INTO {}.schema_version (version, title) VALUES (%s, %s)")
                                      .format(s), (version, title))
            catalog = await self._catalog(cur)
            for spec in self.specs.values():
                await self._reconcile(cur, spec, catalog)
        if not self.specs:
            return
        async with conn.cursor() as cur:  # the newest id of every table, in one round trip
            await cur.execute(sql.SQL("SELECT {}").format(sql.SQL(", ").join(
                sql.SQL("(SELECT id FROM {} ORDER BY id DESC LIMIT 1)").format(self._t(name)) for name in self.specs)))
            for newest in await cur.fetchone() or ():
                if newest is not None:
                    ids.observe(newest)

    async def _catalog(self, cur: psycopg.AsyncCursor) -> _Catalog:
        """What the schema holds now, read in three queries: a start does not ask the catalog per table
        (information_schema per table made every start on an existing database cost a quarter second)."""
        await cur.execute(
            "SELECT c.relname, a.attname FROM pg_catalog.pg_attribute a "
            "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped",
            (self.schema,))
        catalog = _Catalog()
        for table, column in await cur.fetchall():
            catalog.columns.setdefault(table, set()).add(column)
        await cur.execute("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = %s", (self.schema,))
        for table, index in await cur.fetchall():
            catalog.indexes.setdefault(table, set()).add(index)
        await cur.execute(sql.SQL("SELECT name, spec FROM {}.tables").format(self._schema))
        catalog.specs = {name: spec for name, spec in await cur.fetchall()}
        return catalog

    async def _reconcile(self, cur: psycopg.AsyncCursor, spec: TableSpec, catalog: _Catalog) -> None:
        """Create the table, its key columns and indexes; backfill columns new to an existing table.

        Only what differs from ``catalog`` is executed, so a start on an up-to-date schema runs no DDL."""
        t = self._t(spec.name)
        existing = catalog.columns.get(spec.name)
        if existing is None:
            await cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (id text PRIMARY KEY, doc text NOT NULL)")
                              .format(t))
            existing = {"id", "doc"}
        fields = list(dict.fromkeys(spec.indexes + spec.unique))
        declared = {column_of(f) for f in fields} | ({"search"} if spec.search else set())
        for col in sorted(existing - declared - {"id", "doc"}):  # a field no longer looked up: its column goes
            await cur.execute(sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(t, sql.Identifier(col)))
        added = [f for f in fields if column_of(f) not in existing]
        for f in added:
            await cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} text").format(t, sql.Identifier(column_of(f))))
        search_added = bool(spec.search) and "search" not in existing
        if search_added:
            await cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN search text").format(t))
        stored = catalog.specs.get(spec.name)
        search_changed = bool(spec.search) and stored is not None and stored.get("search") != list(spec.search)
        if added or search_added or search_changed:
            await self._backfill(cur, spec)
        wanted = {}
        for f in fields:
            col = sql.Identifier(column_of(f))
            if f in spec.unique:
                wanted[_index_name(spec.name, f, "uq")] = sql.SQL(
                    "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({}) WHERE {} IS NOT NULL").format(
                    sql.Identifier(_index_name(spec.name, f, "uq")), t, col, col)
            else:
                wanted[_index_name(spec.name, f, "ix")] = sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {} ON {} ({}, id)").format(
                    sql.Identifier(_index_name(spec.name, f, "ix")), t, col)
        present = catalog.indexes.get(spec.name, set())
        for name in sorted(present):
            if name.startswith(("uq_", "ix_")) and name not in wanted:  # a field no longer declared
                # IF EXISTS: dropping its column above may have dropped it already
                await cur.execute(sql.SQL("DROP INDEX IF EXISTS {}.{}").format(self._schema, sql.Identifier(name)))
        for name, statement in wanted.items():
            if name in present:
                continue
            try:
                async with cur.connection.transaction():  # a savepoint: keep the error readable
                    await cur.execute(statement)
            except psycopg.errors.UniqueViolation as exc:
                raise StoreError(f"table {spec.name!r} breaks a unique constraint: {exc}") from exc
        if stored == self._spec_json(spec):
            return
        await cur.execute(sql.SQL(
            "INSERT INTO {}.tables (name, spec) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
            "SET spec = excluded.spec, updated_at = now() WHERE tables.spec <> excluded.spec").format(self._schema),
            (spec.name, orjson.dumps(self._spec_json(spec)).decode()))

    @staticmethod
    def _spec_json(spec: TableSpec) -> dict:
        return {"indexes": list(spec.indexes), "unique": list(spec.unique), "search": list(spec.search)}

    async def _backfill(self, cur: psycopg.AsyncCursor, spec: TableSpec) -> None:
        fields = list(dict.fromkeys(spec.indexes + spec.unique))
        t = self._t(spec.name)
        await cur.execute(sql.SQL("SELECT id, doc FROM {}").format(t))
        rows = await cur.fetchall()
        if not rows:
            return
        log.info("OpenSink: filling new lookup columns of %s (%d rows)", spec.name, len(rows))
        cols = [sql.Identifier(column_of(f)) for f in fields] + ([sql.Identifier("search")] if spec.search else [])
        statement = sql.SQL("UPDATE {} SET ({}) = ROW({}) WHERE id = %s").format(
            t, sql.SQL(", ").join(cols), sql.SQL(", ").join(sql.Placeholder() * len(cols)))
        params = []
        for doc_id, raw in rows:
            doc = orjson.loads(raw)
            values = [_key(doc.get(f)) for f in fields]
            if spec.search:
                values.append(_search_prefilter(search_text(doc, spec.search)))
            params.append((*values, doc_id))
        try:
            await cur.executemany(statement, params)
        except psycopg.errors.UniqueViolation as exc:
            raise StoreError(f"table {spec.name!r} breaks a unique constraint: {exc}") from exc

    def _t(self, name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(self._schema, sql.Identifier(name))

    def _spec(self, name: str) -> TableSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise ValueError(f"unknown table {name!r}") from None

    # -- reads --------------------------------------------------------------------------
    async def get(self, table: str, id: str) -> Doc | None:
        self._spec(table)
        pool = await self._ready()
        async with pool.connection() as conn:
            cur = await conn.execute(self._get_sql(table), (id,))
            row = await cur.fetchone()
        return None if row is None else orjson.loads(row[0])

    def _get_sql(self, table: str) -> sql.Composed:
        key = ("get", table)
        found = self._sql_cache.get(key)
        if found is None:
            found = self._sql_cache[key] = sql.SQL("SELECT doc FROM {} WHERE id = %s").format(self._t(table))
        return found

    def _split_where(self, spec: TableSpec, where: Mapping[str, Any]) -> tuple[list, list, list]:
        """SQL conditions and parameters for indexed fields, and the conditions left for Python."""
        conds: list[sql.Composable] = []
        params: list[Any] = []
        rest: list[tuple[str, str | None]] = []
        indexed = set(spec.indexes) | set(spec.unique)
        for f, value in where.items():
            if f in indexed:
                col = sql.Identifier(column_of(f))
                key = _key(value)
                if key is None:
                    conds.append(sql.SQL("{} IS NULL").format(col))
                else:
                    conds.append(sql.SQL("{} = %s").format(col))
                    params.append(key)
            else:
                rest.append((f, _key(value)))
        return conds, params, rest

    @staticmethod
    def _walked(spec: TableSpec, where: Mapping[str, Any]) -> str | None:
        """The field whose index a page walks (``TableSpec.walk``), or None to leave the choice to the planner."""
        for f in spec.walk:
            if where.get(f) is not None:
                return f
        return None

    async def query(self, table: str, where: Mapping[str, Any] | None = None, *, limit: int = 50,
                    after: str | None = None, order: Order = "desc",
                    match: Callable[[Doc], bool] | None = None, search: str | None = None) -> Page:
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if order not in ("asc", "desc"):
            raise ValueError("order must be 'asc' or 'desc'")
        spec = self._spec(table)
        where = where or {}
        walked = self._walked(spec, where)
        conds, params, rest = self._split_where(spec, {f: v for f, v in where.items() if f != walked})
        if walked is not None:
            # "k BETWEEN v AND v ... ORDER BY k, id": the same rows as "k = v ORDER BY id", but the planner no
            # longer treats k as a constant, so only the (k, id) index yields that order without a sort and
            # each page is one range of it, whatever the statistics say about v.
            col = sql.Identifier(column_of(walked))
            key = _key(where[walked])
            conds.append(sql.SQL("{} >= %s AND {} <= %s").format(col, col))
            params += [key, key]
        needle = None
        if search:
            if not spec.search:
                raise ValueError(f"table {table!r} declares no search fields")
            needle = search.lower()
            conds.append(sql.SQL("strpos(search, %s) > 0"))
            params.append(_search_prefilter(needle))
        python_side = bool(rest) or match is not None or needle is not None
        chunk = min(limit + 1, MAX_LIMIT + 1) if not python_side else max(SCAN_CHUNK, limit + 1)
        desc = order == "desc"
        base = sql.SQL("SELECT id, doc FROM {}").format(self._t(table))
        pool = await self._ready()
        page = Page()
        cursor = after
        async with pool.connection() as conn:
            while True:
                all_conds = list(conds)
                all_params = list(params)
                if cursor is not None:
                    all_conds.append(sql.SQL("id < %s" if desc else "id > %s"))
                    all_params.append(cursor)
                statement = base
                if all_conds:
                    statement = sql.SQL("{} WHERE {}").format(base, sql.SQL(" AND ").join(all_conds))
                direction = sql.SQL("DESC" if desc else "ASC")
                if walked is None:
                    statement = sql.SQL("{} ORDER BY id {} LIMIT {}").format(statement, direction, sql.Literal(chunk))
                else:
                    statement = sql.SQL("{} ORDER BY {} {}, id {} LIMIT {}").format(
                        statement, sql.Identifier(column_of(walked)), direction, direction, sql.Literal(chunk))
                cur = await conn.execute(statement, all_params)
                rows = await cur.fetchall()
                for doc_id, raw in rows:
                    doc = orjson.loads(raw)
                    if rest and any(_key(doc.get(f)) != key for f, key in rest):
                        continue
                    if needle is not None and needle not in search_text(doc, spec.search):
                        continue
                    if match is not None and not match(doc):
                        continue
                    if len(page.items) == limit:
                        page.next_after = page.items[-1]["id"]
                        return page
                    page.items.append(doc)
                if len(rows) < chunk:
                    return page
                cursor = rows[-1][0]

    async def count(self, table: str, where: Mapping[str, Any] | None = None) -> int:
        spec = self._spec(table)
        conds, params, rest = self._split_where(spec, where or {})
        pool = await self._ready()
        if rest:
            total, after = 0, None
            while True:
                page = await self.query(table, where, limit=MAX_LIMIT, after=after, order="asc")
                total += len(page.items)
                if page.next_after is None:
                    return total
                after = page.next_after
        statement = sql.SQL("SELECT count(*) FROM {}").format(self._t(table))
        if conds:
            statement = sql.SQL("{} WHERE {}").format(statement, sql.SQL(" AND ").join(conds))
        async with pool.connection() as conn:
            cur = await conn.execute(statement, params)
            return (await cur.fetchone())[0]

    # -- writes -------------------------------------------------------------------------
    async def batch(self, ops: Sequence[Op]) -> list[Doc]:
        if self._closed:
            raise StoreError("the database is closed")
        if not ops:
            return []
        for op in ops:
            if not isinstance(op, (Insert, Update, Delete)):
                raise TypeError(f"not a store operation: {op!r}")
            self._spec(op.table)
            if isinstance(op, Insert) and op.requires is not None:
                self._check_requirement(op.requires)
        pool = await self._ready()
        now = ids.now_iso()
        try:
            async with pool.connection() as conn:
                if len(ops) == 1 and not isinstance(ops[0], Update):
                    # One statement is atomic by itself: no BEGIN/COMMIT round trips.
                    async with conn.cursor() as cur:
                        return [await self._apply(cur, ops[0], now)]
                async with conn.transaction(), conn.cursor() as cur:
                    done = []
                    for run in _runs(ops):
                        if len(run) > 1:
                            done += await self._insert_many(cur, run, now)
                        else:
                            done.append(await self._apply(cur, run[0], now))
            self._note_inserts(ops)
            return done
        except psycopg.errors.UniqueViolation as exc:
            raise self._conflict(exc) from None
        except psycopg.errors.SerializationFailure as exc:
            raise Conflict(f"a concurrent change got there first ({exc.diag.message_primary})") from None
        except psycopg.Error as exc:
            raise StoreError(f"database error: {exc}") from exc

    def _note_inserts(self, ops: Sequence[Op]) -> None:
        """Refresh the planner's statistics after a bulk load (autovacuum gets there only later).

        Without them PostgreSQL plans "sink_id = ... AND workspace_id = ... ORDER BY id LIMIT 50"
        on a just-filled table as a bitmap AND of both indexes plus a sort of every match.
        """
        if len(ops) < 50:
            return
        for op in ops:
            if isinstance(op, Insert):
                self._grown[op.table] = self._grown.get(op.table, 0) + 1
        for table, grown in list(self._grown.items()):
            if grown >= ANALYZE_AFTER_ROWS and table not in self._analyzing:
                self._grown[table] = 0
                self._analyzing.add(table)
                task = asyncio.ensure_future(self._analyze(table))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _analyze(self, table: str) -> None:
        try:
            pool = await self._ready()
            async with pool.connection() as conn:
                await conn.execute(sql.SQL("ANALYZE {}").format(self._t(table)))
        except Exception as exc:  # only statistics: never worth failing anything for
            log.warning("OpenSink: ANALYZE %s failed: %s", table, exc)
        finally:
            self._analyzing.discard(table)

    def _conflict(self, exc: psycopg.errors.UniqueViolation) -> Conflict:
        name = exc.diag.constraint_name or ""
        table = exc.diag.table_name or ""
        if name.endswith("_pkey"):
            return Conflict(f"{table} already has a document with this id")
        spec = self.specs.get(table)
        for f in (spec.unique if spec else ()):
            if _index_name(table, f, "uq") == name:
                return Conflict(f"{f} is already taken")
        return Conflict(f"a unique value is already taken ({name})")

    def _columns(self, spec: TableSpec, doc: Mapping[str, Any], raw: str) -> tuple[list[str], list[Any]]:
        names = ["doc"]
        values: list[Any] = [raw]
        for f in dict.fromkeys(spec.indexes + spec.unique):
            names.append(column_of(f))
            values.append(_key(doc.get(f)))
        if spec.search:
            names.append("search")
            values.append(_search_prefilter(search_text(doc, spec.search)))
        return names, values

    async def _insert_many(self, cur: psycopg.AsyncCursor, ops: Sequence[Insert], now: str) -> list[Doc]:
        """Inserts into one table sent together (psycopg pipelines ``executemany``: one round trip, not one each)."""
        spec = self.specs[ops[0].table]
        docs: list[Doc] = []
        rows: list[list[Any]] = []
        names: list[str] = []
        for op in ops:
            doc = {"id": op.doc.get("id") or ids.new_id(), **op.doc}
            if not isinstance(doc["id"], str) or not doc["id"]:
                raise ValueError("id must be a non-empty string")
            doc.setdefault("created_at", now)
            doc.setdefault("updated_at", doc["created_at"])
            names, values = self._columns(spec, doc, _encode(doc))
            docs.append(doc)
            rows.append([doc["id"], *values])
        await cur.executemany(self._insert_sql(spec.name, names, returning=True), rows, returning=True)
        for doc in docs:  # one result per statement: the id, or nothing when the id was taken
            if await cur.fetchone() is None:
                raise Conflict(f"{spec.name} {doc['id']} already exists")
            cur.nextset()
        return docs

    async def _apply(self, cur: psycopg.AsyncCursor, op: Op, now: str) -> Doc:
        spec = self.specs[op.table]
        t = self._t(op.table)
        if isinstance(op, Insert):
            doc = {"id": op.doc.get("id") or ids.new_id(), **op.doc}
            doc_id = doc["id"]
            if not isinstance(doc_id, str) or not doc_id:
                raise ValueError("id must be a non-empty string")
            doc.setdefault("created_at", now)
            doc.setdefault("updated_at", doc["created_at"])
            required = op.requires
            try:
                raw = _encode(doc)
            except Invalid:
                if required is not None and not await self._requirement_holds(cur, required):
                    raise NotFound(required.missing()) from None  # as if checked first, like TinyStore
                raise
            names, values = self._columns(spec, doc, raw)
            if required is None:
                await cur.execute(self._insert_sql(op.table, names), [doc_id, *values])
            else:  # the requirement is part of the same statement: no round trip of its own
                keys = {f: _key(v) for f, v in required.where.items()}
                await cur.execute(self._insert_required_sql(op.table, names, required.table, keys),
                                  [doc_id, *values, required.id, *(k for k in keys.values() if k is not None)])
            if cur.rowcount != 1:
                if required is not None and not await self._requirement_holds(cur, required):
                    raise NotFound(required.missing())
                raise Conflict(f"{op.table} {doc_id} already exists")
            return doc
        if isinstance(op, Update):
            if op.changes.get("id", op.id) != op.id:
                raise ValueError("id cannot change")
            await cur.execute(sql.SQL("SELECT doc FROM {} WHERE id = %s FOR UPDATE").format(t), (op.id,))
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"{op.table} {op.id} not found")
            old = orjson.loads(row[0])
            for field, expected in (op.expect or {}).items():
                if old.get(field) != expected:
                    raise Conflict(f"{op.table} {op.id} has {field} {old.get(field)!r}, not {expected!r}")
            doc = {**old, **op.changes}
            if "updated_at" not in op.changes:
                doc["updated_at"] = now
            names, values = self._columns(spec, doc, _encode(doc))
            await cur.execute(self._update_sql(op.table, names), [*values, op.id])
            return doc
        await cur.execute(sql.SQL("DELETE FROM {} WHERE id = %s RETURNING doc").format(t), (op.id,))
        row = await cur.fetchone()
        if row is None:
            raise NotFound(f"{op.table} {op.id} not found")
        return orjson.loads(row[0])

    def _insert_sql(self, table: str, names: list[str], *, returning: bool = False) -> sql.Composed:
        key = ("insert", table, returning)
        found = self._sql_cache.get(key)
        if found is None:
            cols = [sql.Identifier("id"), *(sql.Identifier(n) for n in names)]
            found = self._sql_cache[key] = sql.SQL(
                "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO NOTHING{}").format(
                self._t(table), sql.SQL(", ").join(cols), sql.SQL(", ").join(sql.Placeholder() * len(cols)),
                sql.SQL(" RETURNING id" if returning else ""))
        return found

    def _check_requirement(self, required: Require) -> None:
        spec = self._spec(required.table)
        lookups = set(spec.indexes) | set(spec.unique)
        unknown = [f for f in required.where if f not in lookups]
        if unknown:
            raise ValueError(f"a requirement may only name indexed fields of {required.table}: {unknown}")

    def _insert_required_sql(self, table: str, names: list[str], required: str,
                             keys: Mapping[str, str | None]) -> sql.Composed:
        """``INSERT ... SELECT <values> WHERE EXISTS (<the required row>)``: one statement, one round trip."""
        key = ("insert-required", table, required, tuple((f, k is None) for f, k in keys.items()))
        found = self._sql_cache.get(key)
        if found is None:
            cols = [sql.Identifier("id"), *(sql.Identifier(n) for n in names)]
            conds = [sql.SQL("id = %s")]
            for f, k in keys.items():
                col = sql.Identifier(column_of(f))
                conds.append(sql.SQL("{} IS NULL").format(col) if k is None else sql.SQL("{} = %s").format(col))
            found = self._sql_cache[key] = sql.SQL(
                "INSERT INTO {} ({}) SELECT {} WHERE EXISTS (SELECT 1 FROM {} WHERE {}) "
                "ON CONFLICT (id) DO NOTHING").format(
                self._t(table), sql.SQL(", ").join(cols), sql.SQL(", ").join(sql.Placeholder() * len(cols)),
                self._t(required), sql.SQL(" AND ").join(conds))
        return found

    async def _requirement_holds(self, cur: psycopg.AsyncCursor, required: Require) -> bool:
        """After an insert that did nothing: was it the requirement (or the id already taken)?"""
        await cur.execute(self._get_sql(required.table), (required.id,))
        row = await cur.fetchone()
        if row is None:
            return False
        found = orjson.loads(row[0])
        return all(_key(found.get(f)) == _key(v) for f, v in required.where.items())

    def _update_sql(self, table: str, names: list[str]) -> sql.Composed:
        key = ("update", table)
        found = self._sql_cache.get(key)
        if found is None:
            found = self._sql_cache[key] = sql.SQL("UPDATE {} SET {} WHERE id = %s").format(
                self._t(table),
                sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(n)) for n in names))
        return found

    # -- messages between servers (LISTEN/NOTIFY) ---------------------------------------
    @property
    def channel(self) -> str:
        return f"{self.schema}_events"

    async def publish(self, message: str) -> None:
        if len(message.encode()) <= NOTIFY_MAX:
            await self._notify([message])
            return
        pool = await self._ready()
        async with pool.connection() as conn:
            relay = sql.SQL("{}.event_relay").format(self._schema)
            self._published_large += 1
            if self._published_large % 100 == 1:
                await conn.execute(sql.SQL("DELETE FROM {} WHERE at < now() - interval '{}'").format(
                    relay, sql.SQL(RELAY_KEEP)))
            await conn.execute(sql.SQL(
                "WITH r AS (INSERT INTO {} (payload) VALUES (%s) RETURNING id) "
                "SELECT pg_notify(%s, '@' || id) FROM r").format(relay), (message, self.channel))

    async def publish_many(self, messages: Sequence[str]) -> None:
        """Every message in order; the ones that fit a notification all go in one statement (one round trip)."""
        small: list[str] = []
        for message in messages:
            if len(message.encode()) <= NOTIFY_MAX:
                if message in small:  # PostgreSQL delivers equal payloads of one transaction once
                    await self._notify(small)
                    small = []
                small.append(message)
                continue
            await self._notify(small)
            small = []
            await self.publish(message)
        await self._notify(small)

    async def _notify(self, messages: list[str]) -> None:
        """One statement, its own transaction. A notification is no durable record (a server that was not
        listening never gets it), so its commit does not wait for the WAL to reach the disk: no fsync."""
        if not messages:
            return
        pool = await self._ready()
        async with pool.connection() as conn:
            await conn.execute(NOTIFY_SQL, (self.channel, messages))

    async def listen(self, callback: Callable[[str], None]) -> Callable[[], Any]:
        await self._ready()
        connected = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(self._listener(callback, connected))
        await connected

        async def stop() -> None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

        return stop

    async def _listener(self, callback: Callable[[str], None], connected: asyncio.Future) -> None:
        """Keep one connection LISTENing; reconnect after a failure (messages meanwhile are lost)."""
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    if not connected.done():
                        connected.set_result(None)
                    delay = 0.5
                    async for note in conn.notifies():
                        payload = note.payload
                        if payload.startswith("@"):
                            payload = await self._relayed(int(payload[1:]))
                            if payload is None:
                                continue
                        callback(payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not connected.done():
                    connected.set_exception(StoreError(f"cannot listen on PostgreSQL: {exc}"))
                    return
                log.warning("OpenSink: lost the PostgreSQL LISTEN connection (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def _relayed(self, relay_id: int) -> str | None:
        pool = await self._ready()
        async with pool.connection() as conn:
            cur = await conn.execute(sql.SQL("SELECT payload FROM {}.event_relay WHERE id = %s").format(self._schema),
                                     (relay_id,))
            row = await cur.fetchone()
        return None if row is None else row[0]

    async def flush(self) -> None:
        """Nothing to wait for: a write returns once PostgreSQL has committed it."""

    async def close(self, **_ignored: Any) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def stats(self) -> dict[str, Any]:
        return {"backend": "postgresql", "schema": self.schema, "fsync": self.fsync,
                "pool": self._pool.get_stats() if self._pool is not None else None}
