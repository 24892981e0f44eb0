"""GET /v1/events: the caller's events as Server-Sent Events, resumable with Last-Event-ID."""

from __future__ import annotations

from typing import Any

from ..models.common import shaper
from ..models.runtime_extras import EventsQuery
from ..models.sinks import Sink
from ..models.webhooks import Webhook
from ..runtime.events import Event
from ..runtime.streams import CLOSE, KEEPALIVE, RESET, Ended
from ..services.access import Principal, grants
from .call import Call
from .routing import ANY, Route, Stream

#: Which scope lets a key see an event, by the event type's first word.
EVENT_RESOURCES = {
    "item": "sink_items", "sink": "sinks", "agent": "agents", "configuration": "agent_configurations",
    "session": "agent_sessions", "input_request": "agent_session_input_requests",
    "activity": "agent_session_activities", "job": "background_jobs", "execution": "agents",
    "state": "states", "webhook": "webhooks", "notebook_run": "background_jobs",
}


#: Events whose data is an object holding a write secret: rendered through its reply model, as the
#: API replies are, so the secret is null for a caller that may not write it (``WriteSecret``).
EVENT_MODELS = {f"{kind}.{change}": model for kind, model in (("sink", Sink), ("webhook", Webhook))
                for change in ("created", "updated", "deleted")}


def rendered(principal: Principal, event: Event) -> Any:
    """The event's data as ``principal`` may see it."""
    model = EVENT_MODELS.get(event.type)
    return shaper(model, principal.withheld)(event.data) if model is not None else event.data


def may_read(principal: Principal, event: Event) -> bool:
    if principal.is_user:
        return True
    resource = EVENT_RESOURCES.get(event.type.split(".", 1)[0])
    return resource is not None and grants(list(principal.scopes), resource, "read")


async def stream_events(call: Call) -> None:
    principal = call.principal
    query = call.query(EventsQuery)
    everywhere = query.workspaces == "all"
    if everywhere:
        principal.require_user("stream every workspace's events")
    types = {t.strip() for t in (query.types or "").split(",") if t.strip()} or None

    readable: dict[str, bool] = {}  # may_read by event type, worked out once per stream

    def accepts(event: Event) -> bool:
        if not (everywhere or event.workspace_id == principal.workspace_id) or (
                types is not None and event.type not in types):
            return False
        allowed = readable.get(event.type)
        if allowed is None:
            allowed = readable[event.type] = may_read(principal, event)
        return allowed

    streams = call.services_streams
    # Opened before the replay, so nothing falls between the two; a key's stream ends with the key.
    sub = streams.open(accepts, key_id=principal.key_id, expires_at=principal.expires_at)
    out = call.sse()
    last_sent = 0
    try:
        resume = call.header("Last-Event-ID") or query.last_event_id
        if resume:
            missed = streams.events.since(resume)
            if missed is None:
                await out.event(streams.events.last_id, "reset", {"reason": "events since that id are no longer "
                                                                  "known: list what you show again"})
            else:
                for event in missed:
                    if accepts(event):
                        await out.event(event.id, event.type, rendered(principal, event))
                    last_sent = event.seq
        await out.comment("connected")
        send = out.direct()
        deliver = None
        if send is not None:
            def deliver(event: Event, frames: dict) -> bool:
                """Straight to the socket, the frame shared by every stream that renders the event alike."""
                if event.seq <= last_sent:
                    return True  # already sent by the replay
                key = principal.withheld if event.type in EVENT_MODELS else None
                frame = frames.get(key)
                if frame is None:
                    frame = frames[key] = out.frame(event.id, event.type, rendered(principal, event))
                return send(frame)

        while not streams.closing:
            sub.deliver = deliver  # while waiting on an empty queue, events may skip it (and this task)
            item = await sub.queue.get()  # no timer per event: the streams' one ticker sends KEEPALIVE
            sub.deliver = None
            if item is KEEPALIVE:
                await out.comment("keep-alive")
                continue
            if item is CLOSE:
                break
            if isinstance(item, Ended):  # the key was revoked or expired: reconnecting gets the 401
                await out.comment(f"closed: {item.reason}")
                break
            if item is RESET:
                await out.event(streams.events.last_id, "reset",
                                {"reason": "this stream fell too far behind: list what you show again"})
                break
            if item.seq > last_sent:
                await out.event(item.id, item.type, rendered(principal, item))
    finally:
        streams.close(sub)


ROUTES = [
    Route("GET", "/events", stream_events, ANY,
          "Live events of the caller's workspace as Server-Sent Events (types=a,b; workspaces=all for the "
          "Jupyter user); resume with Last-Event-ID.",
          Stream(), tag="events", query=EventsQuery),
]
