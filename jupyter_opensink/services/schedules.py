"""Job schedules: the hosted API's interval form and cron, validated and turned into cron specs.

Both forms become a list of cron specs (with seconds first when given six
fields, as cronsim and aiocron read them) in one timezone, which is what the
scheduler fires and what ``next_run_at`` is computed from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from ..errors import Invalid

MINUTES_PER_DAY = 1440
DIVISORS = [n for n in range(1, MINUTES_PER_DAY + 1) if MINUTES_PER_DAY % n == 0]


@dataclass(frozen=True)
class Schedule:
    specs: tuple[str, ...]
    timezone: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def next_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.tz)
        return min(next(CronSim(spec, local)) for spec in self.specs)


def interval_specs(interval: int, start: int) -> tuple[str, ...]:
    """Cron specs for "minutes since midnight UTC ≡ start (mod interval)", one per minute value."""
    by_minute: dict[int, list[int]] = {}
    for moment in range(start, MINUTES_PER_DAY, interval):
        hour, minute = divmod(moment, 60)
        by_minute.setdefault(minute, []).append(hour)
    return tuple(f"{minute} {_hours(hours)} * * *" for minute, hours in sorted(by_minute.items()))


def _hours(hours: list[int]) -> str:
    return "*" if len(set(hours)) == 24 else ",".join(map(str, sorted(set(hours))))


def build_schedule(job: dict) -> Schedule:
    """Validate a job's schedule fields; 400 naming the problem."""
    interval, start, cron = job.get("interval_minutes"), job.get("start_minute"), job.get("cron")
    tz_name = job.get("timezone") or "UTC"
    if (interval is None) == (cron is None):
        raise Invalid("give exactly one schedule: interval_minutes (+ start_minute) or cron")
    if cron is not None:
        if start is not None:
            raise Invalid("start_minute goes with interval_minutes, not with cron")
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid(f"timezone: {tz_name!r} is not an IANA timezone (e.g. Europe/Paris)") from None
        fields = cron.split()
        if len(fields) not in (5, 6):
            raise Invalid("cron: give 5 fields (minute hour day month weekday) or 6 with seconds first")
        try:
            CronSim(cron, datetime.now(tz))
        except (CronSimError, ValueError) as exc:
            raise Invalid(f"cron: {exc}".rstrip(": ")) from None
        return Schedule((cron,), tz_name)
    if job.get("timezone") not in (None, "UTC"):
        raise Invalid("timezone goes with cron; interval schedules count minutes since midnight UTC")
    if interval not in DIVISORS:
        raise Invalid("interval_minutes must divide 1440 (a day): e.g. 1, 5, 10, 15, 30, 60, 120, 360, 720, 1440")
    start = 0 if start is None else start
    if not 0 <= start < interval:
        raise Invalid(f"start_minute must be from 0 to {interval - 1} (below interval_minutes)")
    return Schedule(interval_specs(interval, start), "UTC")
