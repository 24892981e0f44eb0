"""The audit log: one record per decision, each sealed with a SHA-256 hash of the record before it.

A record says who or what decided (a person, an approval link, a key, a policy, the clock), what was
proposed, what was answered and what changed. It is written in the same atomic batch as the decision
itself, so a crash can never leave a decision without its record, or a record of a decision that did not
happen. Records are history: deleting the agent or session they describe leaves them in place.

The chain: ``hash = sha256(prev_hash + canonical JSON of the record)``, the first record's ``prev_hash``
being 64 zeros. Canonical JSON is the record's ``RECORD_FIELDS`` with keys sorted, no whitespace, UTF-8
(Python: ``json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``), so anyone
can check an export without this server. Editing, removing or inserting a record breaks every hash after
it; removing the newest records is caught by the chain's head (a document holding the last hash and count).

One chain, even with several servers on one database: every append updates the head with a
compare-and-set on its hash inside the decision's batch (on PostgreSQL under the head row's lock), so two
appends made from the same head cannot both commit; the loser is rebuilt on the new head and tried again.
On a shared (networked) store a server's own appends take turns on a lock, so they never race each other:
only appends of different servers can. The embedded store needs no lock: it reads the head and applies the
batch in memory without yielding to the event loop between the two, so appends never interleave, and
decisions made at the same moment still share one fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from .. import ids
from ..errors import Conflict
from ..store import Doc, Insert, Op, Store, TableSpec, Update

AUDIT = "audit_log"
HEAD = "audit_chain"
HEAD_ID = "head"
TABLES = [TableSpec(AUDIT, indexes=("workspace_id", "request_id")), TableSpec(HEAD)]
GENESIS = "0" * 64
#: What a record holds and its hash covers (``hash`` itself, and the store's timestamps, aside).
RECORD_FIELDS = ("id", "seq", "at", "workspace_id", "request_id", "session_id", "agent_id", "agent_name", "key",
                 "title", "status", "defaults", "response", "changes", "decision", "comment", "resolved_by",
                 "resolved_by_name", "prev_hash")
#: Appends rebuilt on a head another server moved, before giving up (each round, one server's append wins).
MAX_ATTEMPTS = 200
PAGE = 500
#: How far a record's ``at`` may lie behind the time in its id (ids never go back; clocks might).
CLOCK_SLACK_MS = 60_000


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes a record's hash covers (see the module docstring)."""
    return json.dumps({f: record.get(f) for f in RECORD_FIELDS}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def chain_hash(prev_hash: str, record: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(record)).hexdigest()


def decision_entry(request: dict[str, Any], agent_name: str | None) -> dict[str, Any]:
    """What the log keeps of a request that was just decided (or ran out of time)."""
    return {"at": request.get("resolved_at") or ids.now_iso(), "workspace_id": request["workspace_id"],
            "request_id": request["id"], "session_id": request["session_id"], "agent_id": request["agent_id"],
            "agent_name": agent_name, "key": request["key"], "title": request["title"],
            "status": request["status"], "defaults": request.get("defaults"), "response": request.get("response"),
            "changes": request.get("changes"), "decision": request.get("decision"),
            "comment": request.get("comment"), "resolved_by": request.get("resolved_by"),
            "resolved_by_name": request.get("resolved_by_name")}


def _id_floor(at: str, slack_ms: int) -> str:
    """An id below every id made at ``at`` minus ``slack_ms`` or later (a keyset cursor for a time)."""
    ms = max(int(ids.parse_time(at).timestamp() * 1000) - slack_ms, 0)
    h = f"{ms:012x}"
    return f"{h[:8]}-{h[8:]}-7000-0000-000000000000"


def _id_ms(doc_id: str) -> int:
    return int(doc_id.replace("-", "")[:12], 16)


class AuditLog:
    def __init__(self, store: Store):
        self.store = store
        self._turn: contextlib.AbstractAsyncContextManager = (asyncio.Lock() if store.shared
                                                              else contextlib.nullcontext())

    async def commit(self, ops: Sequence[Op], entries: Sequence[dict[str, Any]]) -> list[Doc]:
        """Apply ``ops`` with a chained record of each of ``entries``, all in one batch; returns the results of
        ``ops`` alone. A ``Conflict`` from ``ops`` themselves is raised as it is."""
        async with self._turn:
            for _ in range(MAX_ATTEMPTS):
                head = await self.store.get(HEAD, HEAD_ID)
                records, head_op = self._chained(head, entries)
                try:
                    done = await self.store.batch([head_op, *ops, *(Insert(AUDIT, r) for r in records)])
                except Conflict:
                    moved = await self.store.get(HEAD, HEAD_ID)
                    if (moved or {}).get("hash") == (head or {}).get("hash"):
                        raise  # the chain was not the reason: one of ``ops`` refused
                    continue  # another server appended first: chain onto its record
                return done[1:1 + len(ops)]
        raise Conflict("the audit log is busy (other servers kept appending first): try again")

    @staticmethod
    def _chained(head: Doc | None, entries: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], Op]:
        prev = head["hash"] if head else GENESIS
        seq = head["seq"] if head else 0
        if head:
            ids.observe(head["last_id"])  # ids follow the chain's order, whichever server appends
        records = []
        for entry in entries:
            seq += 1
            record = {**entry, "id": ids.new_id(), "seq": seq, "prev_hash": prev}
            record["hash"] = prev = chain_hash(prev, record)
            records.append(record)
        moved = {"hash": prev, "seq": seq, "last_id": records[-1]["id"] if records else (head or {}).get("last_id")}
        if head is None:
            return records, Insert(HEAD, {"id": HEAD_ID, **moved})
        return records, Update(HEAD, HEAD_ID, moved, expect={"hash": head["hash"]})

    async def records(self, *, since: str | None = None, until: str | None = None,
                      workspace_id: str | None = None) -> AsyncIterator[Doc]:
        """Records oldest first (chain order), those decided at or after ``since`` and before ``until``,
        read a page at a time."""
        after = _id_floor(since, CLOCK_SLACK_MS) if since else None
        stop_ms = _id_ms(_id_floor(until, -CLOCK_SLACK_MS)) if until else None
        where = {"workspace_id": workspace_id} if workspace_id else None
        while True:
            page = await self.store.query(AUDIT, where, limit=PAGE, after=after, order="asc")
            for record in page.items:
                if stop_ms is not None and _id_ms(record["id"]) > stop_ms:
                    return
                if (since is None or record["at"] >= since) and (until is None or record["at"] < until):
                    yield record
            if page.next_after is None:
                return
            after = page.next_after
            await asyncio.sleep(0)  # a long export or verify lets the server answer others between pages

    async def verify(self) -> dict[str, Any]:
        """Recompute the whole chain: ``ok``, how many ``records``, and the first record that does not hold
        (``first_bad``; when records at the end are missing, the id the head says came last)."""
        prev, seq, count = GENESIS, 0, 0
        async for record in self.records():
            seq += 1
            count += 1
            if (record.get("seq") != seq or record.get("prev_hash") != prev
                    or record.get("hash") != chain_hash(prev, record)):
                return {"ok": False, "records": count, "first_bad": record["id"]}
            prev = record["hash"]
        head = await self.store.get(HEAD, HEAD_ID)
        if (head or {}).get("hash", GENESIS) != prev or (head or {}).get("seq", 0) != seq:
            return {"ok": False, "records": count, "first_bad": (head or {}).get("last_id")}
        return {"ok": True, "records": count, "first_bad": None}
