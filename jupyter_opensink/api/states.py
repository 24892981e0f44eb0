"""/v1/states: namespaced key-value memory for agents, with If-Match conditional writes."""

from __future__ import annotations

from .. import ids
from ..errors import Invalid
from ..models.runtime_extras import State, StateFilters, StatePut
from .call import Call
from .paging import render_page
from .routing import Json, Page, Route, Status

MAX_VERSION_DIGITS = 18  # versions count writes from 1: more digits than any can reach (and fit in 64 bits)


def _if_match(call: Call) -> int | None:
    """``If-Match: 3`` or ``If-Match: "3"`` (an ETag-style quoted version)."""
    raw = call.header("If-Match")
    if raw is None:
        return None
    version = ids.parse_digits(raw.strip().removeprefix("W/").strip('"'), MAX_VERSION_DIGITS)
    if version is None:
        raise Invalid("If-Match: a state version, e.g. 3")
    return version


async def put_state(call: Call) -> dict:
    body = call.body(StatePut).values()
    state, created = await call.services.states.put(
        call.workspace_id, call.params["namespace"], call.params["key"], body["value"],
        expires_at=body["expires_at"], if_match=_if_match(call), if_none_match=call.header("If-None-Match") == "*")
    return Status(201, state) if created else state


async def get_state(call: Call) -> dict:
    return await call.services.states.get(call.workspace_id, call.params["namespace"], call.params["key"])


async def delete_state(call: Call) -> dict:
    return await call.services.states.delete(call.workspace_id, call.params["namespace"], call.params["key"],
                                             if_match=_if_match(call))


async def list_states(call: Call) -> dict:
    p = call.paging()
    page = await call.services.states.list(call.workspace_id, call.params["namespace"],
                                           call.query(StateFilters).prefix,
                                           limit=p.limit, after=p.after, order=p.order)
    return render_page(page, p.order)


STATES = "states"
ROUTES = [
    Route("PUT", "/states/{namespace}/{key}", put_state, "states:write",
          "Write a state (any JSON value, optional expires_at). If-Match: <version> writes only over that "
          "version and If-None-Match: * only creates; otherwise 412. 201 when created, 200 when replaced.",
          Json(State, also=(201,)), body=StatePut, tag=STATES, errors=(412,)),
    Route("GET", "/states/{namespace}/{key}", get_state, "states:read", "Read a state.", Json(State),
          tag=STATES, errors=(400,)),
    Route("DELETE", "/states/{namespace}/{key}", delete_state, "states:write",
          "Delete a state (If-Match: <version> to delete only that version).", Json(State), tag=STATES,
          errors=(400, 412)),
    Route("GET", "/states/{namespace}", list_states, "states:read",
          "List a namespace's states (prefix= on keys).", Page(State), tag=STATES, query=StateFilters),
]
