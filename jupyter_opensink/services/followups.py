"""What a pending input request asks to happen while nobody answers: reminders, an escalation, and its
outcome at the deadline (``on_expiry``).

Every due time is derived from the request's stored ``created_at`` and its settings, never kept in
memory alone: a server that starts finds the same due times as the one that stopped, and a due time
names itself (``reminder:3``, ``escalation``), so one row per (request, due time) claims it once across
restarts and across servers sharing a database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .. import ids
from ..errors import Invalid

#: The table of notification channels (escalations name them).
CHANNELS = "notification_channels"
ESCALATION = "escalation"
REMINDER = "reminder"
ON_EXPIRY = ("expire", "reject")


def has_follow_ups(request: dict[str, Any]) -> bool:
    return bool(request.get("remind_every_seconds") or request.get("escalate_after_seconds"))


async def check(values: dict[str, Any], *, min_remind_seconds: float,
                channel_exists: Callable[[str], Awaitable[bool]]) -> None:
    """400 for follow-up settings that cannot work; fills ``on_expiry``'s default."""
    every = values.get("remind_every_seconds")
    if every is not None and every < min_remind_seconds:
        raise Invalid(f"remind_every_seconds: must be at least {min_remind_seconds:g}")
    after, to = values.get("escalate_after_seconds"), values.get("escalate_to")
    if (after is None) != (not to):
        raise Invalid("escalate_after_seconds and escalate_to go together: after how long, and to which channels")
    for channel_id in to or ():
        if not await channel_exists(channel_id):
            raise Invalid(f"escalate_to: notification channel {channel_id} not found")
    values["on_expiry"] = values.get("on_expiry") or "expire"
    if values["on_expiry"] == "reject" and not values.get("expires_at"):
        raise Invalid("on_expiry: reject needs expires_at (when the request is rejected)")


def _due_times(request: dict[str, Any], after: float, until: float) -> list[tuple[float, str]]:
    """Every (due time, name) in ``(after, until]``, in order, before the request's own expiry."""
    created = ids.parse_time(request["created_at"]).timestamp()
    end = until
    if request.get("expires_at"):
        end = min(end, ids.parse_time(request["expires_at"]).timestamp() - 0.001)
    due: list[tuple[float, str]] = []
    every = request.get("remind_every_seconds")
    if every:
        first = max(1, int((after - created) // every) + 1)
        for n in range(max(1, first - 1), first + 2):  # around the first; float rounding may move it by one
            if after < created + n * every <= end:
                due.append((created + n * every, f"{REMINDER}:{n}"))
    escalate = request.get("escalate_after_seconds")
    if escalate and after < created + escalate <= end:
        due.append((created + escalate, ESCALATION))
    return sorted(due)


def next_due(request: dict[str, Any], after: float) -> tuple[float, list[str]] | None:
    """The first time after ``after`` (POSIX seconds) that follow-ups fall due, with every one due then (a
    reminder and the escalation may share a moment), or None when none is left."""
    every = request.get("remind_every_seconds") or 0
    escalate = request.get("escalate_after_seconds") or 0
    found = _due_times(request, after, after + every + escalate + 1)
    if not found:
        return None
    first = found[0][0]
    return first, [name for when, name in found if when == first]


def missed(request: dict[str, Any], now: float) -> list[str]:
    """What fell due while no server was running: the escalation, and only the latest reminder (one
    reminder says "still waiting"; a burst of them would say nothing more)."""
    created = ids.parse_time(request["created_at"]).timestamp()
    end = now
    if request.get("expires_at"):
        end = min(end, ids.parse_time(request["expires_at"]).timestamp() - 0.001)
    names = []
    escalate = request.get("escalate_after_seconds")
    if escalate and created + escalate <= end:
        names.append(ESCALATION)
    every = request.get("remind_every_seconds")
    if every and end >= created + every:
        names.append(f"{REMINDER}:{int((end - created) // every)}")
    return names
