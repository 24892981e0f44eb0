"""Workspace API keys: shown once, stored as a hash, scoped, expiring, revocable."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Any

from .. import ids
from ..errors import Invalid, NotFound, Unauthorized
from ..models.keys import ApiKey
from ..runtime.credentials import KEY_REVOKED
from ..runtime.events import EventBus
from ..store import Store, TableSpec
from .access import Principal, account_name, validate_scopes
from .secrets import KEY_PREFIX, hash_secret, new_api_key
from .workspaces import Workspaces

log = logging.getLogger(__name__)

TABLES = [TableSpec("api_keys", indexes=("workspace_id", "managed"), unique=("key_hash",))]
PREFIX_SHOWN = len(KEY_PREFIX) + 8
LAST_USED_GRANULARITY_S = 60.0  # last_used_at is refreshed at most once a minute per key


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
        sharing the database (``runtime.credentials``)."""
        self._touched_at.pop(doc["id"], None)
        self.events.emit(KEY_REVOKED, doc["workspace_id"], {"id": doc["id"], "workspace_id": doc["workspace_id"]})
        return doc

    async def authenticate(self, secret: str) -> Principal:
        """The principal for a presented key, or ``Unauthorized``."""
        digest = hash_secret(secret)
        page = await self.store.query("api_keys", {"key_hash": digest}, limit=1)
        doc = page.items[0] if page.items else None
        if doc is None or not hmac.compare_digest(doc["key_hash"], digest):
            raise Unauthorized("invalid API key")
        now = time.time()
        expires_at = ids.parse_time(doc["expires_at"]).timestamp() if doc.get("expires_at") else None
        if expires_at is not None and expires_at <= now:
            raise Unauthorized("API key expired")
        self._touch(doc, now)
        if doc.get("managed") == "kernel":
            # Kernel code already runs as the Jupyter user (it can read the server's files):
            # its key may do what the user does, so notebooks can manage keys and workspaces too.
            return Principal(workspace_id=doc["workspace_id"], is_user=True, key_id=doc["id"],
                             user_name="kernel", expires_at=expires_at, display_name=account_name())
        return Principal(workspace_id=doc["workspace_id"], is_user=False, scopes=tuple(doc["scopes"]),
                         key_id=doc["id"], expires_at=expires_at, display_name=doc.get("name"))

    def _touch(self, doc: dict[str, Any], now: float) -> None:
        """Refresh last_used_at off the request path, at most once per granularity period."""
        last = self._touched_at.get(doc["id"])
        if last is None and doc.get("last_used_at"):
            last = ids.parse_time(doc["last_used_at"]).timestamp()
        if last is not None and now - last < LAST_USED_GRANULARITY_S:
            return
        self._touched_at[doc["id"]] = now
        task = asyncio.ensure_future(self._write_last_used(doc["id"], ids.format_time(now)))
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
