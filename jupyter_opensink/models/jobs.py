from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import StringConstraints

from .agents import HeaderName, HeaderValue
from .common import Model, Name, Url, patch_of

CronExpr = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class JobCreate(Model):
    name: Name
    enabled: bool = True
    interval_minutes: int | None = None
    start_minute: int | None = None
    cron: CronExpr | None = None
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    url: Url | None = None
    method: Literal["POST", "GET", "PUT", "DELETE", "PATCH"] | None = None
    headers: dict[HeaderName, HeaderValue] | None = None
    body: dict[str, Any] | None = None
    agent_id: str | None = None


JobUpdate = patch_of(JobCreate, "JobUpdate")


RunStatus = Literal["running", "success", "failed", "skipped"]
RUN_TRIGGERS = ("schedule", "manual")
