"""Notification channels, what they are told, and the record of every attempt.

A channel is an Apprise URL of one workspace, managed by the Jupyter user alone (its URL holds
credentials: stored as given, shown masked after create, never in an event, a log or the request log).
Events reach this service through its own dispatcher (``reactions``), after the write that caused them
is durable and without the request waiting; reminders and escalations come from the follow-up timers
(``follow_up``), claimed once per due time so that restarts and other servers never repeat one.
A failed send is retried a bounded number of times with growing pauses; every attempt is a delivery
record, which the workspace browser shows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from .. import ids
from ..errors import Conflict, Invalid, NotFound
from ..models.links import MAX_EXPIRES_IN
from ..models.notifications import TEST_EVENT
from ..runtime.events import EventBus
from ..runtime.notifier import BadChannelUrl, Notifier
from ..store import Delete, Page, Store, TableSpec
from . import followups
from .agents import Agents
from .expiring import purge_expired
from .links import ApprovalLinks
from .scoping import get_owned, scoped

log = logging.getLogger(__name__)
CHANNELS = followups.CHANNELS
DELIVERIES, CLAIMS = "notification_deliveries", "notification_claims"
TABLES = [
    TableSpec(CHANNELS, indexes=("workspace_id",)),
    TableSpec(DELIVERIES, indexes=("workspace_id", "channel_id", "request_id")),
    # One row per (request, follow-up due time), inserted by whichever server sends it first.
    TableSpec(CLAIMS, indexes=("request_id",)),
]
CLAIM_KEEP_SECONDS = 7 * 86400
#: The facts of a proposal a message shows (the first ones; the link shows everything).
MAX_FACTS = 8
MAX_FACT_CHARS = 80
MAX_MESSAGE_CHARS = 1000


def _fact(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= MAX_FACT_CHARS else text[:MAX_FACT_CHARS - 1] + "…"


class Notifications:
    def __init__(self, store: Store, notifier: Notifier, events: EventBus, agents: Agents,
                 approval_links: ApprovalLinks):
        self.store = store
        self.notifier = notifier
        self.events = events
        self.agents = agents
        self.approval_links = approval_links
        #: Retries after a failed attempt, and the first pause between attempts (doubled each time).
        self.retries = 2
        self.retry_seconds = 5.0
        #: Turns an approval link's token into the page's absolute URL (set by the app, which knows the
        #: server's address); None: messages carry no link.
        self.link_url: Callable[[str], str] | None = None
        self._stopping = asyncio.Event()

    # -- channels -------------------------------------------------------------------------------------
    def render(self, channel: dict[str, Any]) -> dict[str, Any]:
        return {**{k: v for k, v in channel.items() if k not in ("url", "masked_url")},
                "url": channel["masked_url"]}

    def _checked_url(self, url: str) -> str:
        """The URL's masked form; 400 for a URL Apprise cannot use (the message never repeats the URL)."""
        try:
            self.notifier.load(url)
        except BadChannelUrl as exc:
            raise Invalid(f"url: {exc}") from None
        return self.notifier.mask(url)

    async def get_doc(self, workspace_id: str, channel_id: str) -> dict[str, Any]:
        return await get_owned(self.store, CHANNELS, channel_id, workspace_id, "notification channel")

    async def get(self, workspace_id: str, channel_id: str) -> dict[str, Any]:
        return self.render(await self.get_doc(workspace_id, channel_id))

    async def create(self, workspace_id: str, values: dict[str, Any]) -> dict[str, Any]:
        masked = self._checked_url(values["url"])
        doc = await self.store.insert(CHANNELS, {**values, "workspace_id": workspace_id, "masked_url": masked})
        return self.render(doc)

    async def list(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                   after: str | None, order: str) -> Page:
        page = await self.store.query(CHANNELS, scoped(workspace_id, filters), limit=limit, after=after, order=order)
        page.items = [self.render(d) for d in page.items]
        return page

    async def update(self, workspace_id: str, channel_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        await self.get_doc(workspace_id, channel_id)
        for field in ("name", "url", "events", "include_link", "enabled"):
            if field in changes and changes[field] is None:
                raise Invalid(f"{field}: may not be null")
        if "url" in changes:
            changes["masked_url"] = self._checked_url(changes["url"])
        return self.render(await self.store.update(CHANNELS, channel_id, changes))

    async def delete(self, workspace_id: str, channel_id: str) -> dict[str, Any]:
        doc = await self.get(workspace_id, channel_id)
        await self.store.batch([Delete(CHANNELS, channel_id)])
        return doc

    async def test(self, workspace_id: str, channel_id: str) -> dict[str, Any]:
        """One test message, now (no retry: the person asking is waiting); recorded like any attempt."""
        channel = await self.get_doc(workspace_id, channel_id)
        result = await self.notifier.send(channel["url"], "OpenSink: test notification",
                                          f"This is a test of the notification channel \"{channel['name']}\". "
                                          "If you read this, it works.")
        await self._record(channel, TEST_EVENT, None, result, attempt=1)
        return {"delivered": result.ok, "error": result.error}

    # -- deliveries -----------------------------------------------------------------------------------
    async def deliveries(self, workspace_id: str, filters: dict[str, Any] | None = None, *, limit: int,
                         after: str | None, order: str) -> Page:
        where = dict(filters or {})
        if where.get("ok") is not None:
            where["ok"] = where["ok"] == "true"
        return await self.store.query(DELIVERIES, scoped(workspace_id, where), limit=limit, after=after,
                                      order=order)

    async def get_delivery(self, workspace_id: str, delivery_id: str) -> dict[str, Any]:
        return await get_owned(self.store, DELIVERIES, delivery_id, workspace_id, "notification delivery")

    async def _record(self, channel: dict[str, Any], event: str, request_id: str | None, result: Any,
                      attempt: int) -> dict[str, Any]:
        record = await self.store.insert(DELIVERIES, {
            "workspace_id": channel["workspace_id"], "channel_id": channel["id"], "event": event,
            "request_id": request_id, "ok": result.ok, "error": result.error, "attempt": attempt,
            "duration_ms": result.duration_ms})
        self.events.emit("notification.delivered", channel["workspace_id"], record)
        return record

    # -- reacting to events ---------------------------------------------------------------------------
    @property
    def reactions(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """What this service does on each event (run by a dispatcher, off the request path)."""
        return {"input_request.created": self._on_created, "input_request.expired": self._on_expired,
                "input_request.resolved": self._on_resolved, "activity.created": self._on_activity,
                "job.run.finished": self._on_job_run}

    async def _on_created(self, request: dict[str, Any]) -> None:
        if request.get("status") == "pending":  # a policy may have answered it at once
            await self._notify(request["workspace_id"], "input_request.created", request)

    async def _on_expired(self, request: dict[str, Any]) -> None:
        await self._notify(request["workspace_id"], "input_request.expired", request)

    async def _on_resolved(self, request: dict[str, Any]) -> None:
        if request.get("resolved_by") == "system":  # on_expiry: reject
            await self._notify(request["workspace_id"], "input_request.expired", request)

    async def _on_activity(self, activity: dict[str, Any]) -> None:
        if activity.get("type") == "session_ended" and (activity.get("payload") or {}).get("status") == "failed":
            await self._notify(activity["workspace_id"], "session.failed", activity)

    async def _on_job_run(self, run: dict[str, Any]) -> None:
        if run.get("status") == "failed":
            await self._notify(run["workspace_id"], "job.run.failed", run)

    # -- follow-ups -----------------------------------------------------------------------------------
    async def pending_with_follow_ups(self) -> list[dict[str, Any]]:
        return [r for r in await self.store.all("input_requests", {"status": "pending"})
                if followups.has_follow_ups(r)]

    async def follow_up(self, request_id: str, name: str) -> bool:
        """Send the follow-up ``name`` (``reminder:<n>`` or ``escalation``) of a request still pending, once
        whichever server or restart gets here first. Returns whether more may follow (still pending)."""
        request = await self.store.get("input_requests", request_id)
        if request is None or request["status"] != "pending":
            return False
        if request.get("expires_at") and request["expires_at"] <= ids.now_iso():
            return False
        try:
            await self.store.insert(CLAIMS, {"id": f"{request_id}:{name}", "request_id": request_id,
                                             "expires_at": ids.format_time(time.time() + CLAIM_KEEP_SECONDS)})
        except Conflict:
            return True  # sent already (by another server, or before a restart)
        if name == followups.ESCALATION:
            await self._notify(request["workspace_id"], "input_request.escalated", request,
                               also=list(request.get("escalate_to") or ()))
        else:
            await self._notify(request["workspace_id"], "input_request.reminder", request,
                               count=int(name.partition(":")[2]))
        return True

    async def purge_expired(self) -> int:
        return await purge_expired(self.store, CLAIMS)

    # -- sending --------------------------------------------------------------------------------------
    async def _channels(self, workspace_id: str, event: str, agent_id: str | None,
                        also: list[str] | None = None) -> list[dict[str, Any]]:
        """The enabled channels told about ``event``: those subscribed (a reminder goes to the channels told
        of the request, too), limited to their agents, plus ``also`` (escalate_to) whatever they subscribe."""
        wanted = {event}
        if event == "input_request.reminder":
            wanted.add("input_request.created")
        chosen = []
        for channel in await self.store.all(CHANNELS, {"workspace_id": workspace_id}):
            if not channel.get("enabled", True):
                continue
            if channel["id"] in (also or ()):
                chosen.append(channel)
                continue
            if not wanted & set(channel.get("events") or ()):
                continue
            scope = channel.get("agent_ids")
            if scope is not None and agent_id not in scope:
                continue
            chosen.append(channel)
        return chosen

    async def _notify(self, workspace_id: str, event: str, subject: dict[str, Any],
                      also: list[str] | None = None, count: int | None = None) -> None:
        """Tell every channel concerned about ``event`` (``count``: which reminder this is)."""
        agent_id = subject.get("agent_id")
        channels = await self._channels(workspace_id, event, agent_id, also)
        if not channels:
            return
        agent_name = await self._agent_name(workspace_id, agent_id)
        await asyncio.gather(*(self._deliver(channel, event, subject, agent_name, count) for channel in channels))

    async def _agent_name(self, workspace_id: str, agent_id: str | None) -> str:
        if agent_id is None:
            return "an agent"
        try:
            return (await self.agents.get_doc(workspace_id, agent_id))["name"]
        except NotFound:
            return agent_id

    async def _deliver(self, channel: dict[str, Any], event: str, subject: dict[str, Any], agent_name: str,
                       count: int | None = None) -> None:
        """Compose and send to one channel, retrying a bounded number of times; every attempt recorded."""
        try:
            title, body = await self._message(channel, event, subject, agent_name, count)
        except Exception:  # never lose the whole notification over its wording
            log.exception("could not compose the %s notification", event)
            title, body = f"OpenSink: {event}", f"{agent_name}: {subject.get('title') or subject.get('id')}"
        request_id = subject["id"] if event.startswith("input_request.") else None
        pause = self.retry_seconds
        for attempt in range(1, self.retries + 2):
            result = await self.notifier.send(channel["url"], title, body)
            try:
                await self._record(channel, event, request_id, result, attempt)
            except Exception:  # the store is closing: the attempt happened all the same
                log.warning("could not record a notification attempt to channel %s", channel["id"])
            if result.ok or attempt > self.retries:
                return
            try:  # the pause ends early when the server stops: no retry then
                await asyncio.wait_for(self._stopping.wait(), pause)
                return
            except asyncio.TimeoutError:
                pause *= 2

    async def _message(self, channel: dict[str, Any], event: str, subject: dict[str, Any],
                       agent_name: str, count: int | None = None) -> tuple[str, str]:
        """(title, body) of one message: short, plain text, readable on a phone's lock screen."""
        if event == "session.failed":
            return (f"{agent_name}: session failed",
                    f"{agent_name}'s session {subject.get('session_id')} failed.\n{subject.get('message') or ''}")
        if event == "job.run.failed":
            job = await self.store.get("background_jobs", subject.get("job_id") or "")
            name = job["name"] if job else subject.get("job_id")
            return (f"Background job {name} failed",
                    f"The run of {name} started at {subject.get('started_at')} failed: "
                    f"{subject.get('error_message') or 'no reason given'}")
        lead = {"input_request.created": f"{agent_name} asks",
                "input_request.reminder": f"Reminder {count}: {agent_name} is still waiting",
                "input_request.escalated": f"Escalated: {agent_name} has had no answer",
                "input_request.expired": f"Expired: {agent_name} had no answer in time"}[event]
        lines = [f"{lead}: {subject['title']}", ""]
        if subject.get("message"):
            message = subject["message"]
            lines.append(message if len(message) <= MAX_MESSAGE_CHARS else message[:MAX_MESSAGE_CHARS - 1] + "…")
        defaults = subject.get("defaults") or {}
        if defaults:
            lines += ["", "Proposed:"]
            lines += [f"  {key}: {_fact(value)}" for key, value in list(defaults.items())[:MAX_FACTS]]
            if len(defaults) > MAX_FACTS:
                lines.append(f"  … and {len(defaults) - MAX_FACTS} more")
        if event == "input_request.expired":
            outcome = "It was rejected automatically." if subject.get("status") == "resolved" else "It expired."
            lines += ["", outcome]
        else:
            if subject.get("expires_at"):
                lines += ["", f"Answer before {subject['expires_at']}."]
            if channel.get("include_link", True):
                url = await self._fresh_link(channel, subject)
                if url:
                    lines += ["", f"Answer here: {url}"]
        title = f"{agent_name}: {subject['title']}"
        if event != "input_request.created":
            title = f"{lead.split(':')[0]}: {title}"  # "Reminder 2: trader: Buy ACME?"
        return title, "\n".join(lines).strip()

    async def _fresh_link(self, channel: dict[str, Any], request: dict[str, Any]) -> str | None:
        """A single-use approval link for this message alone; it dies with the request."""
        if self.link_url is None:
            return None
        try:
            link = await self.approval_links.create(request["workspace_id"], request["id"],
                                                    expires_in=MAX_EXPIRES_IN,
                                                    note=f"sent to notification channel {channel['name']}")
        except (Conflict, NotFound):
            return None  # answered or gone meanwhile
        return self.link_url(link["token"])

    def stop(self) -> None:
        """Pending retries and sends waiting for a thread give up (the dispatcher then waits only for the
        attempts in flight, each bounded by notification_timeout)."""
        self._stopping.set()
        self.notifier.stop_waiting()
