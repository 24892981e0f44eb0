"""Idempotency-Key: a retried POST returns the first answer instead of repeating the effect.

Each key is kept per workspace for 24 hours, durably. A claim is written
before the effect and the answer after it, so a retry that arrives while the
first attempt runs, or after a crash between the two writes, is refused
(409) rather than repeated: an effect is never applied twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from .. import ids
from ..errors import Conflict, Invalid
from ..store import Delete, Insert, Store, TableSpec

TABLES = [TableSpec("idempotency_keys", unique=("ref",))]  # ids are time-ordered: oldest first for purging
TTL = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255
PURGE_BATCH = 100  # expired keys removed per new claim, so storage stays bounded without a timer


@dataclass(frozen=True)
class Replay:
    status: int
    body: bytes


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request's identity: equal JSON bodies match whatever their key order or spacing."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body.strip() else b""
    except orjson.JSONDecodeError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


class IdempotencyKeys:
    def __init__(self, store: Store, ttl: dt.timedelta = TTL):
        self.store = store
        self.ttl = ttl

    @staticmethod
    def _ref(workspace_id: str, key: str) -> str:
        return hashlib.sha256(f"{workspace_id}\0{key}".encode()).hexdigest()

    def _expired(self, doc: dict[str, Any]) -> bool:
        return ids.parse_time(doc["created_at"]) + self.ttl <= dt.datetime.now(dt.timezone.utc)

    async def claim(self, workspace_id: str, key: str, request: str) -> tuple[str, Replay | None]:
        """Claim ``key`` for ``request`` (a fingerprint); returns the claim id and, for a repeat, the first answer."""
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise Invalid(f"Idempotency-Key: must be 1 to {MAX_KEY_LENGTH} characters")
        ref = self._ref(workspace_id, key)
        for _ in range(2):  # a second pass when another request claimed it between our read and write
            page = await self.store.query("idempotency_keys", {"ref": ref}, limit=1)
            found = page.items[0] if page.items else None
            if found is None or self._expired(found):
                claim_id = ids.new_id()
                try:
                    await self.store.batch([*await self._purge(found), Insert("idempotency_keys", {
                        "id": claim_id, "ref": ref, "workspace_id": workspace_id, "request": request,
                        "status": None, "body": None, "created_at": ids.now_iso()})])
                except Conflict:
                    continue
                return claim_id, None
            if found["request"] != request:
                raise Conflict("Idempotency-Key was already used for a different request (method, path or body); "
                               "use a new key for a new request")
            if found["status"] is None:
                raise Conflict("a request with this Idempotency-Key is in progress or was interrupted by a "
                               "server restart; read the resource to learn whether it took effect")
            return found["id"], Replay(found["status"], found["body"].encode())
        raise Conflict("a request with this Idempotency-Key is in progress")

    async def _purge(self, replaced: dict[str, Any] | None) -> list[Delete]:
        oldest = await self.store.query("idempotency_keys", {}, limit=PURGE_BATCH, order="asc")
        expired = {doc["id"] for doc in oldest.items if self._expired(doc)}
        if replaced is not None:
            expired.add(replaced["id"])
        return [Delete("idempotency_keys", doc_id) for doc_id in sorted(expired)]

    async def answer(self, claim_id: str, status: int, body: bytes) -> None:
        """Keep the first answer (anything but a server error) for repeats."""
        await self.store.update("idempotency_keys", claim_id, {"status": status, "body": body.decode()})

    async def release(self, claim_id: str) -> None:
        """The attempt failed on our side (5xx): the key may be used again."""
        await self.store.delete("idempotency_keys", claim_id)
