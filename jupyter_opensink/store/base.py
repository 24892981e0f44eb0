"""The storage interface every backend implements, and the values it speaks.

Services only ever see this module's names. A backend keeps JSON documents in
named tables; every document has a string ``id`` (UUIDv7, assigned by the
store when absent) plus ``created_at``/``updated_at`` maintained by the store.

Threading rule: a store belongs to one event loop. Call its methods from that
loop's thread only; backends may do blocking I/O in their own worker threads.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Doc = dict[str, Any]
Order = Literal["desc", "asc"]
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}\Z")


@dataclass(frozen=True)
class TableSpec:
    """A table and the fields it can be looked up by.

    ``indexes`` are fields usable for fast equality lookups in ``query``;
    ``unique`` fields are indexed too and refuse a second document with the
    same non-null value (``Conflict``). ``search`` fields are what
    ``query(search=...)`` looks in: their string values (nested ones too) and
    their numbers and booleans as JSON text.

    ``walk``: indexed fields whose index a page always walks when the query's
    ``where`` names them (the first one named), whatever else it names: a
    field whose value narrows the table most, such as a parent's id. A backend
    that plans queries itself (PostgreSQL) then reads a page as one index range
    from the cursor on, never a scan of the newest rows of the whole table that
    filters out other parents' documents; results are the same either way.
    """

    name: str
    indexes: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    walk: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _TABLE_NAME.match(self.name):
            raise ValueError(f"bad table name {self.name!r}")
        if not set(self.walk) <= set(self.indexes):
            raise ValueError(f"table {self.name!r}: walk names fields that are not indexes")


@dataclass(frozen=True)
class Require:
    """A document another write depends on: ``table`` holds ``id`` and it equals ``where``.

    ``where`` names only indexed or unique fields of ``table`` (``ValueError`` otherwise),
    so a backend can check it inside the write's own statement. When the document is
    missing or differs, the write changes nothing and raises ``NotFound(message)``.
    """

    table: str
    id: str
    where: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""

    def missing(self) -> str:
        return self.message or f"{self.table} {self.id} not found"


@dataclass(frozen=True)
class Insert:
    """Add ``doc``; with ``requires``, only while that document exists as described (see ``Require``)."""

    table: str
    doc: Mapping[str, Any]
    requires: Require | None = None


@dataclass(frozen=True)
class Update:
    """Replace the given top-level fields of one document (others are kept).

    ``expect``: fields the document must still have, or the update is a
    ``Conflict`` (compare-and-set: two concurrent resolves cannot both win).
    """

    table: str
    id: str
    changes: Mapping[str, Any]
    expect: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Delete:
    table: str
    id: str


Op = Insert | Update | Delete


@dataclass
class Page:
    """One page of a query; ``next_after`` is the cursor for the next page, or None."""

    items: list[Doc] = field(default_factory=list)
    next_after: str | None = None


class Store(ABC):
    """Durable document tables with equality indexes and keyset paging.

    Every write method returns only once the write is durable under the
    store's fsync policy; a write that raises changed nothing.

    ``shared`` is True when other servers may use the same database at the
    same time (then work that must happen once is claimed with a write that
    only one of them can make, e.g. an insert with a fixed id).
    """

    shared: bool = False

    @abstractmethod
    async def get(self, table: str, id: str) -> Doc | None:
        """The document, or None."""

    @abstractmethod
    async def query(
        self,
        table: str,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int = 50,
        after: str | None = None,
        order: Order = "desc",
        match: Callable[[Doc], bool] | None = None,
        search: str | None = None,
    ) -> Page:
        """Documents whose fields equal ``where``, ordered by id (newest first by default).

        ``after`` is the id of the last document of the previous page (keyset
        paging: writes during paging never cause skips or repeats). ``match``
        is an extra predicate evaluated on each candidate document. ``search``
        keeps documents whose ``TableSpec.search`` fields contain it, ignoring
        case.
        """

    @abstractmethod
    async def count(self, table: str, where: Mapping[str, Any] | None = None) -> int:
        """How many documents match ``where``."""

    @abstractmethod
    async def batch(self, ops: Sequence[Op]) -> list[Doc]:
        """Apply every op or none (also across a crash); returns each op's resulting doc.

        For ``Delete`` the result is the deleted document. Raises ``NotFound``
        for a missing id or an ``Insert`` whose ``requires`` does not hold, and
        ``Conflict`` for a duplicate id or unique value.
        """

    async def insert(self, table: str, doc: Mapping[str, Any], *, requires: Require | None = None) -> Doc:
        """One document; ``requires`` is checked in the same atomic step (e.g. its sink is in this workspace)."""
        return (await self.batch([Insert(table, doc, requires)]))[0]

    async def update(self, table: str, id: str, changes: Mapping[str, Any],
                     expect: Mapping[str, Any] | None = None) -> Doc:
        return (await self.batch([Update(table, id, changes, expect)]))[0]

    async def delete(self, table: str, id: str) -> Doc:
        return (await self.batch([Delete(table, id)]))[0]

    async def all(self, table: str, where: Mapping[str, Any] | None = None, *, order: Order = "asc",
                  page_size: int = 500) -> list[Doc]:
        """Every matching document (paged internally); for small result sets only."""
        found: list[Doc] = []
        after = None
        while True:
            page = await self.query(table, where, limit=page_size, after=after, order=order)
            found.extend(page.items)
            if page.next_after is None:
                return found
            after = page.next_after

    async def publish(self, message: str) -> None:
        """Send ``message`` to every server listening on this database (shared backends only)."""
        raise NotImplementedError(f"{type(self).__name__} is not shared between servers")

    async def publish_many(self, messages: Sequence[str]) -> None:
        """Send several messages, in order (a backend may send them in one round trip)."""
        for message in messages:
            await self.publish(message)

    async def listen(self, callback: Callable[[str], None]) -> Callable[[], Awaitable[None]]:
        """Call ``callback`` on the loop with every published message; returns the stop coroutine function."""
        raise NotImplementedError(f"{type(self).__name__} is not shared between servers")

    async def connect(self) -> None:
        """Make the database ready now (networked backends connect and migrate; also done on first use)."""

    @abstractmethod
    async def flush(self) -> None:
        """Wait until every write so far is durable."""

    @abstractmethod
    async def close(self) -> None:
        """Flush, write a final snapshot where the backend has one, release the database."""


def check_tables(specs: Iterable[TableSpec]) -> dict[str, TableSpec]:
    by_name: dict[str, TableSpec] = {}
    for spec in specs:
        if spec.name in by_name:
            raise ValueError(f"table {spec.name!r} declared twice")
        by_name[spec.name] = spec
    return by_name
