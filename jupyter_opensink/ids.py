"""Time-ordered ids (UUIDv7), the ISO-8601 UTC timestamps of the API, and whole numbers read from requests.

Ids are strictly increasing within a process so that keyset paging by id
is paging by creation time, and a write can never slip behind a cursor.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from datetime import datetime, timezone

_COUNTER_BITS = 12
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1
_lock = threading.Lock()
_last_ms = 0
_counter = 0

UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")


_random = random.Random(os.urandom(16))  # ids are unique, not secret: no need for the OS generator per id
_VARIANT = 0b10 << 62
_ms_hex = ("", "")  # (ms, its 12 hex digits split 8/4) cached: many ids share a millisecond


def new_id() -> str:
    """A UUIDv7 string: 48-bit ms clock, 12-bit counter (RFC 9562 method 1), 62 random bits."""
    global _last_ms, _counter, _ms_hex
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            # Start low in the counter range so bursts within one ms rarely overflow.
            _counter = os.urandom(1)[0]
        else:
            _counter += 1
            if _counter > _COUNTER_MAX:
                _last_ms += 1  # borrow the next millisecond rather than repeat or go back
                _counter = 0
        ms, counter = _last_ms, _counter
    if _ms_hex[0] != ms:
        h = f"{ms:012x}"
        _ms_hex = (ms, f"{h[:8]}-{h[8:]}-7")
    rand = f"{_VARIANT | _random.getrandbits(62):016x}"
    return f"{_ms_hex[1]}{counter:03x}-{rand[:4]}-{rand[4:]}"


def observe(existing_id: str) -> None:
    """Make later ids sort after ``existing_id`` (called with the newest id loaded from disk)."""
    global _last_ms, _counter
    if not isinstance(existing_id, str) or not UUID7_RE.match(existing_id):
        return
    h = existing_id.replace("-", "")
    ms = int(h[:12], 16)
    counter = int(h[13:16], 16)
    with _lock:
        if (ms, counter) > (_last_ms, _counter):
            _last_ms, _counter = ms, counter


_second_cache = (-1, "")


def format_time(seconds: float) -> str:
    """``2026-11-25T14:00:00.123Z`` for a POSIX time."""
    global _second_cache
    whole = int(seconds)
    if _second_cache[0] != whole:
        _second_cache = (whole, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(whole)))
    return f"{_second_cache[1]}{int((seconds - whole) * 1000):03d}Z"


def now_iso() -> str:
    return format_time(time.time())


def parse_time(value: str) -> datetime:
    """Parse an ISO-8601 time; naive times are taken as UTC. Raises ValueError."""
    if not isinstance(value, str):
        raise ValueError("expected an ISO-8601 time string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def to_iso(moment: datetime) -> str:
    """Render an aware datetime in the API's canonical UTC form (from its fields: a float timestamp
    would turn .096 into .095)."""
    utc = moment.astimezone(timezone.utc)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def parse_digits(text: str | None, max_digits: int) -> int | None:
    """The number ``text`` spells in 1 to ``max_digits`` ASCII digits; None for anything else.

    Every whole number a request carries (a header, a query parameter, a JSON
    pointer's index) is read with this. ``str.isdigit`` also accepts other
    scripts' digits and superscripts ("²", which ``int`` then refuses), ``int``
    accepts signs, spaces and underscores and refuses more than 4,300 digits:
    checking ASCII digits and the length first means a hostile value is a
    plain "not a number" for the caller to answer 400 (or 401) with.
    """
    if text is None or not 0 < len(text) <= max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)
