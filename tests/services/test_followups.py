"""When a pending request's reminders and escalation fall due: derived from its stored times alone."""

from __future__ import annotations

from jupyter_opensink import ids
from jupyter_opensink.services import followups

CREATED = "2026-12-07T05:00:00.123Z"
T0 = ids.parse_time(CREATED).timestamp()


def request(**fields) -> dict:
    return {"created_at": CREATED, **fields}


def walk(req: dict, steps: int) -> list[tuple[float, list[str]]]:
    found, after = [], T0
    for _ in range(steps):
        due = followups.next_due(req, after)
        if due is None:
            break
        found.append((round(due[0] - T0, 3), due[1]))
        after = due[0]
    return found


def test_reminders_count_from_creation_and_share_a_moment_with_the_escalation():
    assert walk(request(remind_every_seconds=60, escalate_after_seconds=120), 4) == [
        (60.0, ["reminder:1"]), (120.0, ["escalation", "reminder:2"]), (180.0, ["reminder:3"]),
        (240.0, ["reminder:4"])]


def test_nothing_falls_due_at_or_after_the_requests_expiry():
    expiring = request(remind_every_seconds=60, escalate_after_seconds=200, expires_at="2026-12-07T05:03:00.123Z")
    assert walk(expiring, 10) == [(60.0, ["reminder:1"]), (120.0, ["reminder:2"])]


def test_a_request_without_follow_ups_has_none():
    assert followups.next_due(request(), T0) is None and followups.missed(request(), T0 + 1e6) == []
    assert not followups.has_follow_ups(request(on_expiry="reject"))


def test_after_a_long_stop_only_the_escalation_and_the_latest_reminder_are_missed():
    req = request(remind_every_seconds=60, escalate_after_seconds=90)
    assert followups.missed(req, T0 + 59) == []
    assert followups.missed(req, T0 + 61) == ["reminder:1"]
    assert followups.missed(req, T0 + 3600 * 24) == ["escalation", "reminder:1440"]
    assert followups.next_due(req, T0 + 3600 * 24) == (T0 + 60 * 1441, ["reminder:1441"])
