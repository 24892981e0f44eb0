"""/v1/notebook-runs, and the rule that only the Jupyter user points a job or an agent at a notebook."""

from __future__ import annotations

from ..models.common import Model
from ..models.notebooks import NotebookRun, NotebookRunFilters
from .call import Call
from .crud import listing, one
from .routing import Endpoint, Json, Page, Route
from .validation import Empty

#: Running a notebook runs code as the Jupyter user: only that user may choose which notebook runs.
SETS_A_NOTEBOOK = "point a job or an agent at a notebook (running one runs code as the Jupyter user)"


def notebook_guarded(method_name: str, model: type[Model], field: str, *, patch: bool) -> Endpoint:
    """A create (or PATCH) endpoint of ``services.<method_name>`` refusing ``field`` (a notebook target)
    unless the caller is the Jupyter user; keys may still change the rest, and trigger what exists."""
    service, _, method = method_name.partition(".")

    async def endpoint(call: Call) -> dict:
        body = call.body(model)
        values = body.changes() if patch else body.values()
        if values.get(field) is not None:
            call.principal.require_user(SETS_A_NOTEBOOK)
        target = getattr(getattr(call.services, service), method)
        if patch:
            return await target(call.workspace_id, call.params["id"], values)
        return await target(call.workspace_id, values)

    return endpoint


async def cancel_run(call: Call) -> dict:
    call.body(Empty)
    return await call.services.notebook_runs.cancel(call.workspace_id, call.params["id"], call.principal.readable)


RUNS = "notebook-runs"
ROUTES = [
    Route("GET", "/notebook-runs", listing(lambda s: s.notebook_runs.list), "background_jobs:read",
          "List notebook runs (filters: job_id, agent_id, status).", Page(NotebookRun), tag=RUNS,
          query=NotebookRunFilters),
    Route("GET", "/notebook-runs/{id}", one(lambda s: s.notebook_runs.get), "background_jobs:read",
          "Get a notebook run.", Json(NotebookRun), tag=RUNS),
    Route("POST", "/notebook-runs/{id}/cancel", cancel_run, "background_jobs:write",
          "Cancel a queued or running notebook run (its kernel is shut down); replies with the ended run.",
          Json(NotebookRun), body=Empty, tag=RUNS, errors=(409,)),
]
