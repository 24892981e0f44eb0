"""What the adapters share when they put a framework's question to a person (no framework imported here)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

#: How long past a question's expiry the expiry event is awaited before it counts as unanswered anyway.
EXPIRY_GRACE = 5.0


def in_session(session: Mapping[str, Any]) -> dict[str, str]:
    """The fields that place an input request in ``session``."""
    return {"session_id": session["id"], "agent_id": session["agent_id"]}


def expiring(body: dict[str, Any], timeout: float | None) -> dict[str, Any]:
    """The question, expiring ``timeout`` seconds from now: a question whose asker stops waiting shows as
    expired in the inbox instead of waiting for an answer nobody would read."""
    if timeout is None:
        return body
    return {**body, "expires_at": (datetime.now(timezone.utc) + timedelta(seconds=timeout)).isoformat()}


def waiting_time(timeout: float | None) -> float | None:
    """How long to wait for the answer to a question expiring after ``timeout``: until its expiry is seen."""
    return None if timeout is None else timeout + EXPIRY_GRACE
