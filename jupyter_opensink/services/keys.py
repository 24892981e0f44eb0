"""Workspace API keys: shown once, stored as a hash, scoped, expiring, revocable."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .. import ids
from ..errors import Invalid, NotFound, Unauthorized
from ..models.keys import ApiKey
from ..runtime.credentials import KEY_REVOKED
from ..runtime.events import Event, EventBus
from ..store import Store, TableSpec
from .access import Principal, account_name, validate_scopes
from .secrets import KEY_PREFIX, hash_secret, new_api_key
from .workspaces import Workspaces

log = logging.getLogger(__name__)

TABLES = [TableSpec("api_keys", indexes=("workspace_id", "managed"), unique=("key_hash",))]
PREFIX_SHOWN = len(KEY_PREFIX) + 8
LAST_USED_GRANULARITY_S = 60.0  # last_used_at is refreshed at most once a minute per key
#: Seconds a key check is trusted before the store is asked again. A revocation, on this server or
#: relayed from another one sharing the database, ends it at once; the bound only matters when a
#: relayed revocation is lost (the relay's connection to the database dropped, its queue was full),
#: so a revoked key keeps working on another server for at most this long. Asking once per key per
#: bound costs nothing measurable (one lookup per 2 s instead of one per request).
CACHE_SECONDS = 2.0
CACHE_SIZE = 4096  # keys remembered (the least recently checked go first); only valid keys are kept
REVOKED_REMEMBERED = 4096  # revoked key ids a check that started before the revocation may not cache


@dataclass(frozen=True)
class _Checked:
    """A key found valid: what its next requests need without asking the store."""

    principal: Principal
    key_id: str
    expires_at: float | None
    last_used_at: str | None
    checked_at: float  # time.monotonic()


def render(doc: dict[str, Any]) -> dict[str, Any]:
    """The key as the ``ApiKey`` model declares it: never its hash."""
    return {k: doc.get(k) for k in ApiKey.model_fields}


class ApiKeys:
    def __init__(self, store: Store, workspaces: Workspaces, events: EventBus):
        self.store = store
        self.workspaces = workspaces
        self.events = events
        self._touching: set[asyncio.Task] = set()
        self._touched_at: dict[str, float] = {}  # key id -> when we last scheduled a last_used_at write
        #: Key hash -> the key as last checked (``authenticate``); revocations remove it.
        self._checked: OrderedDict[str, _Checked] = OrderedDict()
        self._revoked_ids: OrderedDict[str, None] = OrderedDict()
        self._revocations = 0  # bumped by every revocation: a check that saw one while it ran caches nothing
        self.cache_seconds = CACHE_SECONDS
        events.subscribe(self._on_event)

    async def create(self, *, name: str, scopes: list[str], workspace_id: str | None,
                     expires_at: str | None, marks: dict[str, Any] | None = None) -> dict[str, Any]:
        """Returns the key's record plus ``key``, the only time the secret is shown; ``marks`` are stored
        with it in the same write (the kernels' key's ``managed`` and ``kernel_owner``)."""
        scopes = validate_scopes(scopes)
        if workspace_id is None:
            workspace_id = await self.workspaces.default_id()
        else:
            await self.workspaces.get(workspace_id)
        if expires_at is not None and ids.parse_time(expires_at).timestamp() <= time.time():
            raise Invalid("expires_at must be in the future")
        secret = new_api_key()
        doc = await self.store.insert("api_keys", {
            "workspace_id": workspace_id, "name": name, "prefix": secret[:PREFIX_SHOWN],
            "key_hash": hash_secret(secret), "scopes": scopes, "expires_at": expires_at, "last_used_at": None,
            **(marks or {}),
        })
        return {**render(doc), "key": secret}

    async def mint_kernel_key(self, owner: str = "") -> str:
        """A fresh key for the kernels this server starts, acting as the Jupyter user.

        Minted at every server start (the previous one is revoked): kernels
        get it through ``OPENSINK_API_KEY``, which works whether the server
        uses a token, a password or no authentication at all.
        On a database shared with other servers, only this server's previous key (``owner``:
        who minted it) is revoked: the others' kernels keep theirs.
        """
        for old in await self.store.all("api_keys", {"managed": "kernel"}):
            if self.store.shared and old.get("kernel_owner") != owner:
                continue
            try:
                self._revoked(await self.store.delete("api_keys", old["id"]))
            except NotFound:
                pass
        # One write: a stop between making the key and marking it would leave an all-scopes key that no
        # later start revokes.
        created = await self.create(name="Jupyter kernels (managed: replaced at each server start)",
                                    scopes=["all:all"], workspace_id=None, expires_at=None,
                                    marks={"managed": "kernel", "kernel_owner": owner})
        return created["key"]

    async def list(self, *, workspace_id: str | None, limit: int, after: str | None, order: str):
        where = {"workspace_id": workspace_id} if workspace_id else {}
        page = await self.store.query("api_keys", where, limit=limit, after=after, order=order)
        page.items = [render(d) for d in page.items]
        return page

    async def get(self, key_id: str) -> dict[str, Any]:
        doc = await self.store.get("api_keys", key_id)
        if doc is None:
            raise NotFound(f"API key {key_id} not found")
        return render(doc)

    async def revoke(self, key_id: str) -> dict[str, Any]:
        await self.get(key_id)
        return render(self._revoked(await self.store.delete("api_keys", key_id)))

    def _revoked(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Announces the revocation: streams and MCP sessions the key opened end, here and on every server
        sharing the database (``runtime.credentials``); checks of the key remembered here and there end."""
        self._touched_at.pop(doc["id"], None)
        self.forget(doc["id"])  # at once, whoever listens to the event
        self.events.emit(KEY_REVOKED, doc["workspace_id"], {"id": doc["id"], "workspace_id": doc["workspace_id"]})
        return doc

    async def authenticate(self, secret: str) -> Principal:
        """The principal for a presented key, or ``Unauthorized``.

        A valid key's check is remembered by the key's hash for ``cache_seconds``: revoking the key
        (here, or on another server sharing the database) forgets it at once, and its expiry is
        checked on every request. A key's document changes only by its last_used_at otherwise; a
        change of anything else must call ``forget``.
        """
        digest = hash_secret(secret)
        checked = self._checked.get(digest)
        if checked is not None and time.monotonic() - checked.checked_at < self.cache_seconds:
            self._checked.move_to_end(digest)
        else:
            checked = await self._check(digest)
        now = time.time()
        if checked.expires_at is not None and checked.expires_at <= now:
            raise Unauthorized("API key expired")
        self._touch(checked.key_id, checked.last_used_at, now)
        return checked.principal

    async def _check(self, digest: str) -> _Checked:
        revocations = self._revocations
        started = time.monotonic()
        page = await self.store.query("api_keys", {"key_hash": digest}, limit=1)
        doc = page.items[0] if page.items else None
        if doc is None or not hmac.compare_digest(doc["key_hash"], digest):
            self._checked.pop(digest, None)
            raise Unauthorized("invalid API key")
        expires_at = ids.parse_time(doc["expires_at"]).timestamp() if doc.get("expires_at") else None
        if doc.get("managed") == "kernel":
            # Kernel code already runs as the Jupyter user (it can read the server's files):
            # its key may do what the user does, so notebooks can manage keys and workspaces too.
            principal = Principal(workspace_id=doc["workspace_id"], is_user=True, key_id=doc["id"],
                                  user_name="kernel", expires_at=expires_at, display_name=account_name())
        else:
            principal = Principal(workspace_id=doc["workspace_id"], is_user=False,
                                  scopes=tuple(doc["scopes"]), key_id=doc["id"], expires_at=expires_at,
                                  display_name=doc.get("name"))
        checked = _Checked(principal, doc["id"], expires_at, doc.get("last_used_at"), started)
        # A revocation while the store answered may be this key's: its document may be from before.
        if revocations == self._revocations and doc["id"] not in self._revoked_ids:
            self._checked[digest] = checked
            self._checked.move_to_end(digest)
            while len(self._checked) > CACHE_SIZE:
                self._checked.popitem(last=False)
        return checked

    def forget(self, key_id: str) -> None:
        """Drop what is remembered of the key's checks (it was revoked or changed)."""
        self._revocations += 1
        self._revoked_ids[key_id] = None
        while len(self._revoked_ids) > REVOKED_REMEMBERED:
            self._revoked_ids.popitem(last=False)
        for digest in [d for d, c in self._checked.items() if c.key_id == key_id]:
            del self._checked[digest]

    def _on_event(self, event: Event) -> None:
        if event.type == KEY_REVOKED and isinstance(event.data.get("id"), str):
            self.forget(event.data["id"])

    def _touch(self, key_id: str, last_used_at: str | None, now: float) -> None:
        """Refresh last_used_at off the request path, at most once per granularity period."""
        last = self._touched_at.get(key_id)
        if last is None and last_used_at:
            last = ids.parse_time(last_used_at).timestamp()
        if last is not None and now - last < LAST_USED_GRANULARITY_S:
            return
        self._touched_at[key_id] = now
        task = asyncio.ensure_future(self._write_last_used(key_id, ids.format_time(now)))
        self._touching.add(task)
        task.add_done_callback(self._touching.discard)

    async def _write_last_used(self, key_id: str, at: str) -> None:
        try:
            await self.store.update("api_keys", key_id, {"last_used_at": at})
        except NotFound:
            pass  # revoked meanwhile
        except Exception:
            log.exception("could not record last_used_at for API key %s", key_id)

    async def drain(self) -> None:
        """Wait for pending last_used_at writes (at shutdown)."""
        if self._touching:
            await asyncio.gather(*self._touching, return_exceptions=True)
