"""Notification channels: where people hear about requests (email, Slack, Teams, ntfy, any Apprise URL)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from .common import Model, Name, Query, Resource, Stored, patch_of

#: What a channel may be told about.
NotifiedEvent = Literal["input_request.created", "input_request.reminder", "input_request.escalated",
                        "input_request.expired", "session.failed", "job.run.failed"]
NOTIFIED_EVENTS: tuple[str, ...] = NotifiedEvent.__args__  # type: ignore[attr-defined]
#: The event a delivery record names for ``POST /notification-channels/{id}/test``.
TEST_EVENT = "channel.test"
ChannelUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class ChannelCreate(Model):
    name: Name
    url: ChannelUrl = Field(description="An Apprise URL (mailto://, slack://, msteams://, ntfy://, json://...). "
                                        "It holds credentials: every reply after this one shows it masked.")
    events: list[NotifiedEvent] = Field(default_factory=lambda: ["input_request.created"], min_length=1,
                                        description="What the channel is told about.")
    agent_ids: list[str] | None = Field(default=None, max_length=500,
                                        description="Only these agents' requests and sessions; null: every agent.")
    include_link: bool = Field(default=True, description="Put a fresh single-use approval link, which expires "
                                                         "with the request, in each message about a request.")
    enabled: bool = True


ChannelUpdate = patch_of(ChannelCreate, "ChannelUpdate")


class NotificationChannel(Stored):
    workspace_id: str
    name: str
    url: str = Field(description="The Apprise URL with its credentials masked (shown whole only when sent).")
    events: list[NotifiedEvent]
    agent_ids: list[str] | None
    include_link: bool
    enabled: bool


class ChannelTest(Resource):
    delivered: bool
    error: str | None = Field(description="Why the service did not take the test message; null when it did.")


class NotificationDelivery(Stored):
    """One attempt to tell a channel something, whatever came of it."""

    workspace_id: str
    channel_id: str
    event: str = Field(description="One of the channel events, or channel.test.")
    request_id: str | None = Field(description="The input request it was about, if any.")
    ok: bool
    error: str | None = Field(description="Why the attempt failed (never the channel's credentials).")
    attempt: int = Field(description="1 for the first try; retries count up.")
    duration_ms: float


class NotificationDeliveryFilters(Query):
    channel_id: str | None = Field(None, description="Only this channel's deliveries.")
    request_id: str | None = Field(None, description="Only deliveries about this input request.")
    ok: Literal["true", "false"] | None = Field(None, description="Only failed (false) or successful ones.")
