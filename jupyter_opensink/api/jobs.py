"""/v1/background-jobs and /v1/background-job-runs."""

from __future__ import annotations

from ..models.jobs import (BackgroundJob, BackgroundJobRun, BackgroundJobWithSecret, JobCreate, JobUpdate,
                           RunFilters)
from .call import Call
from .crud import listing, one
from .notebooks import notebook_guarded
from .routing import Json, Page, Route, Secret
from .validation import Empty


async def trigger_job(call: Call) -> dict:
    call.body(Empty)
    return await call.services.jobs.trigger(call.workspace_id, call.params["id"])


async def rotate_job_secret(call: Call) -> dict:
    call.body(Empty)
    return await call.services.jobs.rotate_secret(call.workspace_id, call.params["id"])


JOBS, RUNS = "background-jobs", "background-job-runs"
ROUTES = [
    Route("POST", "/background-jobs", notebook_guarded("jobs.create", JobCreate, "notebook", patch=False),
          "background_jobs:write",
          "Create a job: a schedule (interval_minutes + start_minute, or cron + timezone) and a target "
          "(url, agent_id, or a notebook: the Jupyter user only); the reply shows its signing secret this once.",
          Secret(BackgroundJobWithSecret, 201), body=JobCreate, tag=JOBS),
    Route("GET", "/background-jobs", listing(lambda s: s.jobs.list), "background_jobs:read", "List jobs.",
          Page(BackgroundJob), tag=JOBS),
    Route("GET", "/background-jobs/{id}", one(lambda s: s.jobs.get), "background_jobs:read", "Get a job.",
          Json(BackgroundJob), tag=JOBS),
    Route("PATCH", "/background-jobs/{id}", notebook_guarded("jobs.update", JobUpdate, "notebook", patch=True),
          "background_jobs:write", "Change a job; it is rescheduled at once.", Json(BackgroundJob),
          body=JobUpdate, tag=JOBS),
    Route("DELETE", "/background-jobs/{id}", one(lambda s: s.jobs.delete), "background_jobs:write",
          "Delete a job and its runs; it stops at once.", Json(BackgroundJob), tag=JOBS),
    Route("POST", "/background-jobs/{id}/trigger", trigger_job, "background_jobs:write",
          "Run a job now; replies with the run as started.", Json(BackgroundJobRun, 201), body=Empty,
          tag=JOBS),
    Route("POST", "/background-jobs/{id}/rotate-secret", rotate_job_secret, "background_jobs:write",
          "Replace the job's signing secret; the reply shows the new one this once.",
          Secret(BackgroundJobWithSecret), body=Empty, tag=JOBS),
    Route("GET", "/background-job-runs", listing(lambda s: s.jobs.runs), "background_jobs:read",
          "List runs (filter: job_id).", Page(BackgroundJobRun), tag=RUNS, query=RunFilters),
    Route("GET", "/background-job-runs/{id}", one(lambda s: s.jobs.get_run), "background_jobs:read",
          "Get a run.", Json(BackgroundJobRun), tag=RUNS),
]
