"""Dates and times in forms: entered and shown in the person's time zone, sent in UTC (ISO 8601, ``Z``).

A surface that knows the person's zone (the notebook widget's picker, the JupyterLab inbox) uses it; one
that runs no script (the approval page) asks for the person's UTC offset (``UTC_OFFSETS``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo

UTC = timezone.utc
#: A date and time as entered: a wall time with an optional offset (without one, the person's zone).
#: Both engines (this one and ``forms.ts``) accept exactly this form.
MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}"  # date, hours and minutes
                    r"(?::[0-9]{2}(?:\.[0-9]+)?)?"  # seconds
                    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?")  # offset
#: The UTC offsets of the world's time zones, for a surface that must ask the person for theirs.
UTC_OFFSETS = ("-12:00", "-11:00", "-10:00", "-09:30", "-09:00", "-08:00", "-07:00", "-06:00", "-05:00",
               "-04:00", "-03:30", "-03:00", "-02:00", "-01:00", "+00:00", "+01:00", "+02:00", "+03:00",
               "+03:30", "+04:00", "+04:30", "+05:00", "+05:30", "+05:45", "+06:00", "+06:30", "+07:00",
               "+08:00", "+08:45", "+09:00", "+09:30", "+10:00", "+10:30", "+11:00", "+12:00", "+12:45",
               "+13:00", "+14:00")


def moment(text: str, zone: tzinfo) -> datetime | None:
    """``text`` (see ``MOMENT``) as an aware datetime; a wall time without an offset is in ``zone``."""
    if not MOMENT.fullmatch(text.strip()):
        return None
    try:
        found = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=zone)


def utc(at: datetime) -> str:
    """How a date and time is sent: UTC, to the second, with ``Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wall_time(value: str, zone: tzinfo = UTC) -> str:
    """A date-time default as a date-time input holds it: the wall time in ``zone``, seconds only when
    there are some (so an untouched default is sent back unchanged). A default without an offset is
    UTC; one that is not a date and time is not shown."""
    at = moment(value, UTC) if value else None
    if at is None:
        return ""
    local = at.astimezone(zone)
    return local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")


def offset_zone(text: str | None) -> tzinfo:
    """The zone of a UTC offset as ``UTC_OFFSETS`` spells it ("+05:30"); UTC for anything else."""
    if text not in UTC_OFFSETS:
        return UTC
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))
