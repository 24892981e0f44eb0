"""Notebooks as targets: what a job or an agent runs, and the record of each run."""

from __future__ import annotations

import keyword
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from .common import Model, Query, Resource, Stored

DEFAULT_TIMEOUT_SECONDS = 600
MAX_TIMEOUT_SECONDS = 7 * 86400


def _parameter_names(values: dict[str, Any]) -> dict[str, Any]:
    """Each name becomes a variable in the notebook: only identifiers, so a name can never be code."""
    for name in values:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"{name[:100]!r} is not a Python identifier (each parameter becomes a variable)")
    return values


Parameters = Annotated[dict[str, Any], AfterValidator(_parameter_names)]


class NotebookTarget(Model):
    """A notebook to run: relative to the server's root_dir, with its parameters (papermill's convention)."""

    path: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        description="The .ipynb file, relative to the server's root_dir.")
    parameters: Parameters = Field(
        default_factory=dict, description="JSON values injected as literals in a cell after the one tagged "
                                          "'parameters'.")
    kernel_name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None, description="A kernel spec of the server; default: the notebook's own.")
    timeout_seconds: int = Field(default=DEFAULT_TIMEOUT_SECONDS, ge=1, le=MAX_TIMEOUT_SECONDS,
                                 description="The run's limit, kernel start and time spent waiting for a human "
                                             "included; beyond it the kernel is stopped and the run is 'timeout'.")


NotebookRunStatus = Literal["queued", "running", "success", "failed", "timeout", "cancelled"]


class NotebookRunError(Resource):
    """Where a failed run stopped."""

    cell_index: int | None = Field(description="The failing cell's index in the executed notebook (the "
                                                "injected-parameters cell counts); null when no cell ran.")
    ename: str
    evalue: str


class NotebookRun(Stored):
    """One run of a notebook, from queued to its end."""

    workspace_id: str
    path: str
    job_id: str | None
    agent_id: str | None
    session_id: str | None = Field(description="The session the kernel asks on (OPENSINK_SESSION_ID).")
    status: NotebookRunStatus
    parameters: dict[str, Any]
    started_at: datetime | None = Field(description="When its kernel started; null while queued.")
    finished_at: datetime | None
    duration_ms: float | None
    output_path: str = Field(description="The executed notebook, relative to root_dir (opens in JupyterLab).")
    error: NotebookRunError | None
    reason: str | None = Field(description="Why it was cancelled or timed out (or why a restart failed it).")


class NotebookRunFilters(Query):
    job_id: str | None = Field(None, description="Only this job's runs.")
    agent_id: str | None = Field(None, description="Only this agent's runs.")
    status: NotebookRunStatus | None = Field(None, description="Only runs with this status.")
