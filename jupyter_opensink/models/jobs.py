from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .agents import HeaderName, HeaderValue
from .common import Model, Name, Query, Stored, Url, patch_of
from .notebooks import NotebookTarget

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
    notebook: NotebookTarget | None = Field(
        default=None, description="Run this notebook (setting or changing it needs the Jupyter user).")


JobUpdate = patch_of(JobCreate, "JobUpdate")


RunStatus = Literal["running", "success", "failed", "skipped"]
RunTrigger = Literal["schedule", "manual"]


# -- replies --------------------------------------------------------------------
class BackgroundJob(Stored):
    """A schedule (interval_minutes + start_minute, or cron + timezone) and a target (url, or agent_id)."""

    workspace_id: str
    name: str
    enabled: bool
    interval_minutes: int | None
    start_minute: int | None
    cron: str | None
    timezone: str | None = Field(description="IANA name; set with cron, null with interval_minutes.")
    url: str | None
    method: Literal["POST", "GET", "PUT", "DELETE", "PATCH"] | None
    headers: dict[str, str] | None
    body: dict[str, Any] | None
    agent_id: str | None
    notebook: dict[str, Any] | None = Field(
        default=None, description="The notebook it runs: {path, parameters, kernel_name, timeout_seconds}.")
    next_run_at: datetime | None = Field(description="Null while the job is disabled.")
    last_run_at: datetime | None
    total_runs: int
    successful_runs: int
    failed_runs: int
    skipped_runs: int


class BackgroundJobWithSecret(BackgroundJob):
    """A job as created or after its secret is rotated: the only replies that show its secret."""

    signing_secret: str = Field(
        description="The job's own secret (whsec_...), shown this once: requests to a url target are signed "
                    "with it (Standard Webhooks), never with an agent's or the workspace's secret.")


class BackgroundJobRun(Stored):
    """One run of a background job."""

    job_id: str
    workspace_id: str
    status: RunStatus
    trigger: RunTrigger
    scheduled_for: datetime | None = Field(description="When a scheduled run was due; null for a manual one.")
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    response_status: int | None
    error_message: str | None
    notebook_run_id: str | None = Field(default=None, description="The notebook run it started (a notebook "
                                                                  "target, or an agent that is a notebook).")


class RunFilters(Query):
    job_id: str | None = Field(None, description="Only this job's runs.")
