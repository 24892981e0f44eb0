"""Inbound webhooks: a POST from another system becomes an item or an agent run.

The invoke URL names no workspace, so a webhook's ``path`` is unique on the
server and the caller proves who it is: an API key of the webhook's
workspace (``webhooks:write``), or, when the webhook has a secret, a
Standard-Webhooks signature made with it or the shared-secret header
(``principal_for_secret`` turns those into a principal for that one webhook).
Every invocation is recorded with its outcome.

A signed call is accepted once: its ``webhook-id`` is remembered durably (a
row per webhook and id, inserted under a unique key, so two concurrent
deliveries of one id cannot both pass) for as long as its timestamp would be
accepted, and a repeat within that time is a 409. A timestamp may be at most
``SIGNATURE_TOLERANCE`` seconds old and ``CLOCK_SKEW`` seconds ahead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from .. import ids
from ..errors import Conflict, Invalid, NotFound, OpenSinkError, StoreError, Unauthorized, Unavailable
from ..models.common import validation_messages
from ..models.sinks import ItemFields
from ..runtime.events import EventBus
from ..runtime.outbound import sign
from ..store import Delete, Insert, Page, Store, TableSpec
from .access import Principal
from .agents import Agents
from .deliveries import ExecutionDeliveries
from .expiring import purge_expired
from .notebook_runs import NotebookRuns
from .scoping import get_owned, scoped
from .sinks import SinkItems, Sinks

TABLES = [
    TableSpec("webhooks", indexes=("workspace_id",), unique=("path",)),
    TableSpec("webhook_invocations", indexes=("webhook_id", "workspace_id")),
    TableSpec("webhook_dedup", unique=("ref",)),
    TableSpec("webhook_messages", unique=("ref",)),  # signed calls' webhook-ids, while they can be replayed
]
log = logging.getLogger(__name__)
SECRET_HEADER = "X-OpenSink-Webhook-Secret"
SIGNATURE_TOLERANCE = 300  # seconds a signed timestamp may be old (Standard Webhooks)
CLOCK_SKEW = 60  # seconds a signed timestamp may be ahead of this server's clock
STAMP_DIGITS = 12  # unix seconds: 10 digits until the year 2286; anything much longer is no timestamp
MISSING = object()


def resolve_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901; MISSING when nothing is there."""
    if pointer == "":
        return document
    node = document
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and (index := ids.parse_digits(part, 18)) is not None \
                and index < len(node):
            node = node[index]
        else:
            return MISSING
    return node


NO_PROOF = ("send an API key (Authorization: Bearer), a Standard-Webhooks signature made with the webhook's "
            f"secret, or {SECRET_HEADER}")


class Signature(NamedTuple):
    """A Standard-Webhooks signature as sent: the ``webhook-id``, ``webhook-timestamp`` and
    ``webhook-signature`` headers (each None when missing)."""

    message_id: str | None
    timestamp: str | None
    value: str | None


def signed_message(secret: str, signature: Signature, body: bytes) -> tuple[str, int] | None:
    """``(webhook-id, timestamp)`` of a call signed with ``secret`` at a fresh time, else None."""
    message_id, stamp, given = signature
    at = ids.parse_digits(stamp, STAMP_DIGITS)
    if not (message_id and at is not None and given):
        return None
    if not -SIGNATURE_TOLERANCE <= at - time.time() <= CLOCK_SKEW:
        return None
    expected = sign(secret, message_id, at, body).encode()
    # bytes: compare_digest refuses str with non-ASCII characters (a header may carry any latin-1)
    if any(hmac.compare_digest(expected, candidate.encode()) for candidate in given.split()):
        return message_id, at
    return None


class Webhooks:
    def __init__(self, store: Store, sinks: Sinks, sink_items: SinkItems, agents: Agents,
                 deliveries: ExecutionDeliveries, events: EventBus, notebook_runs: NotebookRuns):
        self.store = store
        self.notebook_runs = notebook_runs
        self.sinks = sinks
        self.sink_items = sink_items
        self.agents = agents
        self.deliveries = deliveries
        self.events = events

    # -- definitions --------------------------------------------------------------------------
    async def _check_target(self, workspace_id: str, action: dict[str, Any]) -> None:
        if action["type"] == "create_item":
            await self.sinks.get(workspace_id, action["sink_id"])
        else:
            agent = await self.agents.get(workspace_id, action["agent_id"])
            if not agent.get("execution_endpoint") and not agent.get("execution_notebook"):
                raise Invalid(f"action.agent_id: agent {agent['id']} has no execution_endpoint (or "
                              "execution_notebook) to call")

    async def create(self, workspace_id: str, values: dict[str, Any]) -> dict[str, Any]:
        await self._check_target(workspace_id, values["action"])
        try:
            doc = await self.store.insert("webhooks", {**values, "workspace_id": workspace_id})
        except Conflict:
            raise Conflict(f"path: {values['path']!r} is taken (paths are unique on this server)") from None
        self.events.emit("webhook.created", workspace_id, doc)
        return doc

    async def get(self, workspace_id: str, webhook_id: str) -> dict[str, Any]:
        return await get_owned(self.store, "webhooks", webhook_id, workspace_id, "webhook")

    async def update(self, workspace_id: str, webhook_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        await self.get(workspace_id, webhook_id)
        if "path" in changes and changes["path"] is None or "action" in changes and changes["action"] is None:
            raise Invalid("path and action cannot be null")
        if "action" in changes:
            await self._check_target(workspace_id, changes["action"])
        try:
            doc = await self.store.update("webhooks", webhook_id, changes)
        except Conflict:
            raise Conflict(f"path: {changes.get('path')!r} is taken (paths are unique on this server)") from None
        self.events.emit("webhook.updated", workspace_id, doc)
        return doc

    async def delete(self, workspace_id: str, webhook_id: str) -> dict[str, Any]:
        doc = await self.get(workspace_id, webhook_id)
        await self.store.delete("webhooks", webhook_id)
        self.events.emit("webhook.deleted", workspace_id, doc)
        return doc

    async def list(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        return await self.store.query("webhooks", scoped(workspace_id, filters), limit=limit, after=after,
                                      order=order)

    async def invocations(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                          after: str | None, order: str) -> Page:
        return await self.store.query("webhook_invocations", scoped(workspace_id, filters), limit=limit,
                                      after=after, order=order)

    async def get_invocation(self, workspace_id: str, invocation_id: str) -> dict[str, Any]:
        return await get_owned(self.store, "webhook_invocations", invocation_id, workspace_id, "invocation")

    # -- invoking -----------------------------------------------------------------------------
    async def principal_for_secret(self, path: str, shared: str, signature: Signature | None,
                                   body: bytes) -> Principal:
        """Who a caller proving it holds the secret of the webhook at ``path`` is: its sender, for that one
        webhook (``Unauthorized`` otherwise). ``shared`` is the secret as sent in ``SECRET_HEADER`` ("" when
        not); a ``signature`` must be made over ``body`` at a fresh time."""
        found = await self.store.query("webhooks", {"path": path}, limit=1)
        hook = found.items[0] if found.items else None
        secret = hook.get("secret") if hook is not None else None
        if hook is not None and secret:
            if shared and hmac.compare_digest(shared.encode(), secret.encode()):
                return self._sender(hook, None)
            message = signed_message(secret, signature, body) if signature is not None else None
            if message is not None:
                return self._sender(hook, message)
        # Unknown path, no secret, a wrong one: the same answer, so paths cannot be probed.
        raise Unauthorized(NO_PROOF)

    @staticmethod
    def _sender(hook: dict[str, Any], signed_call: tuple[str, int] | None) -> Principal:
        return Principal(workspace_id=hook["workspace_id"], is_user=False, scopes=("webhooks:write",),
                         webhook_id=hook["id"], signed_call=signed_call)

    async def _target(self, path: str, principal: Principal) -> dict[str, Any]:
        """The webhook at ``path``, if ``principal`` may invoke it."""
        if principal.webhook_id is not None:  # its sender: that one webhook (its secret was checked)
            hook = await self.store.get("webhooks", principal.webhook_id)
            if hook is None or hook["path"] != path:
                raise Unauthorized(NO_PROOF)
            return hook
        found = await self.store.query("webhooks", {"path": path}, limit=1)
        hook = found.items[0] if found.items else None
        if hook is None or hook["workspace_id"] != principal.workspace_id:  # a key: its workspace's only
            raise NotFound(f"webhook {path} not found")
        principal.require("webhooks:write")
        return hook

    async def invoke(self, path: str, principal: Principal, headers: Mapping[str, str],
                     body: bytes) -> tuple[int, dict[str, Any]]:
        """Run the webhook at ``path`` for ``principal`` (an API key, the Jupyter user, or the webhook's own
        sender); returns the status and the reply. ``headers`` are read for a dedup key."""
        hook = await self._target(path, principal)
        message = principal.signed_call
        remembered = await self._remember(hook, *message) if message is not None else None
        try:
            payload = orjson.loads(body) if body.strip() else None
        except orjson.JSONDecodeError:
            payload = None
        try:
            if not isinstance(payload, dict):
                raise Invalid("the payload must be a JSON object")
            seen = await self._deduplicate(hook, payload, headers)
            if seen:
                await self._record(hook, 200, "deduplicated")
                return 200, {"deduplicated": True}
            if hook["action"]["type"] == "create_item":
                item = await self._create_item(hook, payload)
                await self._record(hook, 201, "item_created", item_id=item["id"])
                return 201, {"item": item}
            agent = await self.agents.get_doc(hook["workspace_id"], hook["action"]["agent_id"])  # with its secret
            if agent.get("execution_notebook"):
                run = await self._run_notebook(hook, agent, payload)
                await self._record(hook, 201, "notebook_started", notebook_run_id=run["id"])
                return 201, {"notebook_run": run}
            delivery = await self._run_agent(hook, agent, payload)
            await self._record(hook, 201, "agent_called", delivery_id=delivery["id"], error=delivery["error"])
            return 201, {"delivery": delivery}
        except (Invalid, NotFound) as exc:
            await self._record(hook, 400 if isinstance(exc, Invalid) else 404, "refused", error=exc.message)
            raise
        except Exception as exc:
            ours = not isinstance(exc, OpenSinkError) or isinstance(exc, (StoreError, Unavailable))
            if remembered is not None and ours:  # the sender's retry of this call must get through
                await self._forget(remembered)
            raise

    async def _remember(self, hook: dict[str, Any], message_id: str, at: int) -> str:
        """Record a signed call's ``webhook-id``; Conflict when it was already received (a replay).

        Kept until its timestamp is too old to be accepted (a replay is refused
        as stale from then on); the unique ``ref`` makes the check and the
        record one write, so of two concurrent deliveries only one passes.
        """
        ref = hashlib.sha256(hook["id"].encode() + b"\0" + message_id.encode()).hexdigest()
        found = await self.store.query("webhook_messages", {"ref": ref}, limit=1)
        old = found.items[0] if found.items else None
        replayed = Conflict(f"webhook-id {message_id[:100]!r} was already received by this webhook: a "
                            "signed call is accepted once (send a new webhook-id for a new call)")
        if old is not None and old["expires_at"] > ids.now_iso():
            raise replayed
        ops: list[Any] = [Delete("webhook_messages", old["id"])] if old is not None else []
        expires = ids.format_time(at + SIGNATURE_TOLERANCE + 1)
        try:
            done = await self.store.batch([*ops, Insert("webhook_messages", {
                "ref": ref, "webhook_id": hook["id"], "expires_at": expires})])
        except (Conflict, NotFound):  # the same id at the same moment: that delivery goes ahead
            raise replayed from None
        return done[-1]["id"]

    async def _forget(self, remembered: str) -> None:
        try:
            await self.store.delete("webhook_messages", remembered)
        except Exception:  # the database failing is why we are here; the id then expires with the window
            log.warning("could not forget webhook message %s after a failed call", remembered, exc_info=True)

    async def purge_expired(self) -> int:
        """Remove expired de-duplication values and remembered webhook-ids from storage; returns how many."""
        dedup = await purge_expired(self.store, "webhook_dedup")
        return dedup + await purge_expired(self.store, "webhook_messages")

    async def _deduplicate(self, hook: dict[str, Any], payload: dict[str, Any],
                           headers: Mapping[str, str]) -> bool:
        """True when this payload's dedup value was seen within the TTL (else it is remembered)."""
        dedup = hook.get("dedup")
        if not dedup:
            return False
        if dedup["key"].startswith("header:"):
            name = dedup["key"].removeprefix("header:")
            value: Any = headers.get(name)
            if value is None:
                raise Invalid(f"header {name} is missing (this webhook de-duplicates on it)")
        else:
            value = resolve_pointer(payload, dedup["key"])
            if value is MISSING:
                raise Invalid(f"payload has nothing at {dedup['key']} (this webhook de-duplicates on it)")
        ref = hashlib.sha256(hook["id"].encode() + b"\0" + orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()
        now = dt.datetime.now(dt.timezone.utc)
        found = await self.store.query("webhook_dedup", {"ref": ref}, limit=1)
        old = found.items[0] if found.items else None
        if old is not None and old["expires_at"] > ids.to_iso(now):
            return True
        ops: list[Any] = [Delete("webhook_dedup", old["id"])] if old is not None else []
        expires = ids.to_iso(now + dt.timedelta(seconds=dedup["ttl_seconds"]))
        try:
            await self.store.batch([*ops, Insert("webhook_dedup", {"ref": ref, "expires_at": expires})])
        except Conflict:
            return True  # the same value arrived at the same moment: that one goes ahead
        return False

    async def _create_item(self, hook: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        action = hook["action"]
        defaults = action.get("defaults") or {}

        def take(name: str, pointer: str | None) -> Any:
            found = resolve_pointer(payload, pointer) if pointer is not None else MISSING
            return defaults.get(name, MISSING) if found is MISSING else found

        values: dict[str, Any] = {"title": take("title", action["title"])}
        if values["title"] is MISSING:
            raise Invalid(f"payload has nothing at {action['title']} (the item's title) and no default title")
        body = take("body", action.get("body"))
        if body is not MISSING:
            values["body"] = body
        fields = {name: take(name, pointer) for name, pointer in (action.get("fields") or {}).items()}
        if any(v is not MISSING for v in fields.values()):
            values["fields"] = {k: v for k, v in fields.items() if v is not MISSING}
        try:
            item = ItemFields.model_validate(values)
        except ValidationError as exc:
            raise Invalid("the payload does not make a valid item: " + "; ".join(validation_messages(exc))) from None
        return await self.sink_items.create(hook["workspace_id"], action["sink_id"], item.values())

    async def _run_notebook(self, hook: dict[str, Any], agent: dict[str, Any],
                            payload: dict[str, Any]) -> dict[str, Any]:
        """A notebook agent's run: what an endpoint's body would hold is the parameter ``payload`` (its keys
        need not be Python names), in a session made for the run."""
        extra = {**(hook["action"].get("body") or {}), **payload}
        return await self.notebook_runs.start(hook["workspace_id"], agent["execution_notebook"], agent_id=agent["id"],
                                              parameters={"payload": extra})

    async def _run_agent(self, hook: dict[str, Any], agent: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        if not agent.get("execution_endpoint"):
            raise Invalid(f"agent {agent['id']} has no execution_endpoint")
        extra = {**(hook["action"].get("body") or {}), **payload}
        return await self.deliveries.call_agent(agent, trigger="webhook", extra_body=extra)

    async def _record(self, hook: dict[str, Any], status: int, outcome: str, *, error: str | None = None,
                      item_id: str | None = None, delivery_id: str | None = None,
                      notebook_run_id: str | None = None) -> None:
        doc = await self.store.insert("webhook_invocations", {
            "webhook_id": hook["id"], "workspace_id": hook["workspace_id"], "status": status, "outcome": outcome,
            "error": error, "item_id": item_id, "delivery_id": delivery_id, "notebook_run_id": notebook_run_id})
        self.events.emit("webhook.invoked", hook["workspace_id"], doc)
