"""/v1/background-jobs and /v1/background-job-runs."""

from __future__ import annotations

from ..models.jobs import BackgroundJob, BackgroundJobRun, BackgroundJobWithSecret, JobCreate, JobUpdate
from .crud import create, listing, one, patch
from .call import Call
from .routing import Route
from .validation import Empty


async def trigger_job(call: Call) -> dict:
    call.body(Empty)
    return await call.services.jobs.trigger(call.workspace_id, call.params["id"])


async def rotate_job_secret(call: Call) -> dict:
    call.body(Empty)
    return await call.services.jobs.rotate_secret(call.workspace_id, call.params["id"])


JOBS, RUNS = "background-jobs", "background-job-runs"
ROUTES = [
    Route("POST", "/background-jobs", create("jobs", JobCreate), "background_jobs:write",
          "Create a job: a schedule (interval_minutes + start_minute, or cron + timezone) and a target "
          "(url, or agent_id); the reply shows its signing secret this once.", body=JobCreate, status=201,
          tag=JOBS, response=BackgroundJobWithSecret, secret_reply=True),
    Route("GET", "/background-jobs", listing("jobs"), "background_jobs:read", "List jobs.", tag=JOBS, paged=True,
          response=BackgroundJob),
    Route("GET", "/background-jobs/{id}", one("jobs"), "background_jobs:read", "Get a job.", tag=JOBS,
          response=BackgroundJob),
    Route("PATCH", "/background-jobs/{id}", patch("jobs", JobUpdate), "background_jobs:write",
          "Change a job; it is rescheduled at once.", body=JobUpdate, tag=JOBS, response=BackgroundJob),
    Route("DELETE", "/background-jobs/{id}", one("jobs", "delete"), "background_jobs:write",
          "Delete a job and its runs; it stops at once.", tag=JOBS, response=BackgroundJob),
    Route("POST", "/background-jobs/{id}/trigger", trigger_job, "background_jobs:write",
          "Run a job now; replies with the run as started.", body=Empty, status=201, tag=JOBS,
          response=BackgroundJobRun),
    Route("POST", "/background-jobs/{id}/rotate-secret", rotate_job_secret, "background_jobs:write",
          "Replace the job's signing secret; the reply shows the new one this once.", body=Empty, tag=JOBS,
          response=BackgroundJobWithSecret, secret_reply=True),
    Route("GET", "/background-job-runs", listing("jobs", "runs"), "background_jobs:read",
          "List runs (filter: job_id).", tag=RUNS, query=("job_id",), paged=True, response=BackgroundJobRun),
    Route("GET", "/background-job-runs/{id}", one("jobs", "get_run"), "background_jobs:read", "Get a run.",
          tag=RUNS, response=BackgroundJobRun),
]
