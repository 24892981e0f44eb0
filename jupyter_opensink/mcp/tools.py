"""The MCP tools: one declaration each (arguments, result, scope) over the same services and models
as the HTTP routes, so a tool call is checked, refused and answered as the HTTP API would."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import mcp_types as types
import orjson
from pydantic import BaseModel, ValidationError

from ..errors import Invalid
from ..models.agents import Activity, ActivityCreate, AgentSession
from ..models.common import page_of, shaper
from ..models.mcp import AskHuman, GetInputRequest, HumanAnswer, SearchItems, SetState, StateName, UpdateSession
from ..models.runtime_extras import State
from ..models.sinks import ItemCreate, SinkItem
from ..services import Services
from ..services.access import Principal
from ..api import errors
from ..api.paging import PageQuery, render_page
from ..api.validation import describe, parse_query, standard_json

log = logging.getLogger("jupyter_opensink.mcp")


Progress = Callable[[float, float, str], Awaitable[None]]


@dataclass(frozen=True)
class ToolCall:
    """What a tool sees of one call."""

    principal: Principal
    services: Services
    client_name: str | None
    max_wait: float  # the longest a call may wait for a human (seconds)
    #: Sends a progress notification (progress, total, message); None when the caller asked for none.
    progress: Progress | None = None
    progress_interval: float = 10.0  # seconds between progress notifications while waiting
    #: Set when the server stops: waiting calls return what they have (a pending handle) at once.
    stopping: asyncio.Event | None = None


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    arguments: type[BaseModel]
    result: type[BaseModel]
    scope: str  # needed for any call; a service checks the further ones it needs on the way
    run: Callable[[ToolCall, Any], Awaitable[Any]]
    read_only: bool = False

    @cached_property
    def listing(self) -> types.Tool:
        return types.Tool(
            name=self.name, title=self.title, description=f"{self.description} Needs the scope {self.scope}.",
            input_schema=self.arguments.model_json_schema(by_alias=True, mode="validation"),
            output_schema=self.result.model_json_schema(by_alias=True, mode="serialization"),
            annotations=types.ToolAnnotations(title=self.title, read_only_hint=self.read_only,
                                              destructive_hint=False, open_world_hint=False))

    async def call(self, call: ToolCall, arguments: dict[str, Any] | None) -> types.CallToolResult:
        """The result, or a tool error carrying the HTTP API's message (and its status)."""
        try:
            call.principal.require(self.scope)
            try:  # JSON semantics, as for an HTTP body: times are strings, nothing is coerced
                parsed = self.arguments.model_validate_json(standard_json(arguments or {}))
            except ValidationError as exc:
                raise Invalid(describe(exc)) from None
            value = shaper(self.result, call.principal.withheld)(await self.run(call, parsed))
        except Exception as exc:
            status = errors.status_for(exc, 500)
            if status >= 500:
                log.error("MCP tool %s failed", self.name, exc_info=exc)
            message = errors.message_for(exc, status)
            return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True,
                                        structured_content={"error": message, "status": status})
        return types.CallToolResult(content=[types.TextContent(text=orjson.dumps(value).decode())],
                                    structured_content=value)


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    status = request["status"]
    return {**request, "request_id": request["id"], "resolved_by": request.get("resolved_by"),
            "resolved_by_name": request.get("resolved_by_name"),
            "next": {"resolved": "done", "pending": "poll", "expired": "ask_again"}[status]}


def _check_wait(call: ToolCall, seconds: float) -> None:
    if seconds > call.max_wait:
        raise Invalid(f"timeout_seconds: at most {call.max_wait:g} on this server; poll with get_input_request "
                      "for longer waits")


async def _settled(call: ToolCall, request_id: str, seconds: float) -> dict[str, Any]:
    """The request once answered or expired, or still pending after ``seconds``.

    A caller that asked for progress hears every ``progress_interval`` that the human has not answered
    yet: clients that reset their own request timeout on progress then wait as long as was asked.
    """
    requests, workspace_id = call.services.input_requests, call.principal.workspace_id
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        waited = loop.time() - started
        step = seconds - waited if call.progress is None else min(call.progress_interval, seconds - waited)
        request = await requests.wait_settled(workspace_id, request_id, step, until=call.stopping)
        waited = loop.time() - started
        stopping = call.stopping is not None and call.stopping.is_set()
        if request["status"] != "pending" or waited >= seconds or call.progress is None or stopping:
            return request
        await call.progress(waited, seconds, f"waiting for a human to answer: {request['title']}")


async def ask_human(call: ToolCall, args: AskHuman) -> dict[str, Any]:
    _check_wait(call, args.timeout_seconds)
    values = args.values()
    request = await call.services.asking.ask(
        call.principal, {k: values[k] for k in ("key", "title", "message", "schema", "expires_at", "defaults",
                                                "context", "decisions")},
        session_id=args.session_id, agent_id=args.agent_id,
        agent_name=args.agent_name or call.client_name or "MCP agent")
    return _answer(await _settled(call, request["id"], args.timeout_seconds))


async def get_input_request(call: ToolCall, args: GetInputRequest) -> dict[str, Any]:
    _check_wait(call, args.timeout_seconds)
    return _answer(await _settled(call, args.request_id, args.timeout_seconds))


async def write_item(call: ToolCall, args: ItemCreate) -> dict[str, Any]:
    values = args.values()
    return await call.services.sink_items.create(call.principal.workspace_id, values.pop("sink_id"), values)


async def search_items(call: ToolCall, args: SearchItems) -> dict[str, Any]:
    values = args.values()
    paging = parse_query(PageQuery, {"$trail": args.trail}.get)  # the trail read as a listing's (newest first)
    page = await call.services.sink_items.list(
        call.principal.workspace_id, sink_id=args.sink_id, type=args.type, q=args.q,
        occurred_after=values["occurred_after"], occurred_before=values["occurred_before"], limit=args.limit,
        after=paging.after, order=paging.order)
    return render_page(page, paging.order)


async def log_activity(call: ToolCall, args: ActivityCreate) -> dict[str, Any]:
    return await call.services.activities.create(call.principal, args.values())


async def update_session(call: ToolCall, args: UpdateSession) -> dict[str, Any]:
    changes = args.changes()
    session_id = changes.pop("session_id")
    if not changes:
        raise Invalid("give at least one of status, state, metadata, error_message")
    return await call.services.sessions.update(call.principal.workspace_id, session_id, changes)


async def get_state(call: ToolCall, args: StateName) -> dict[str, Any]:
    return await call.services.states.get(call.principal.workspace_id, args.namespace, args.key)


async def set_state(call: ToolCall, args: SetState) -> dict[str, Any]:
    values = args.values()
    state, _ = await call.services.states.put(call.principal.workspace_id, args.namespace, args.key, args.value,
                                              expires_at=values["expires_at"], if_match=args.if_match,
                                              if_none_match=args.only_new)
    return state


TOOLS: list[Tool] = [
    Tool("ask_human", "Ask a human",
         "Ask the people of this workspace a question and wait for their answer (they answer in a Jupyter "
         "notebook, the JupyterLab inbox or an approval link). Starts a session when none is given. Returns the "
         "answer, or, when timeout_seconds pass first, a pending handle (next: poll) to check with "
         "get_input_request.",
         AskHuman, HumanAnswer, "agent_session_input_requests:write", ask_human),
    Tool("get_input_request", "Check a question",
         "Where a question asked with ask_human stands; waits up to timeout_seconds for the answer.",
         GetInputRequest, HumanAnswer, "agent_session_input_requests:read", get_input_request, read_only=True),
    Tool("write_item", "Write an item", "Write an item (a finding, a result, a link) into a sink.",
         ItemCreate, SinkItem, "sink_items:write", write_item),
    Tool("search_items", "Search items",
         "Items of the workspace, newest first, optionally of one sink, one type, or matching q (title, body "
         "and field values, case-insensitive). Pass the returned trail back for the next page.",
         SearchItems, page_of(SinkItem), "sink_items:read", search_items, read_only=True),
    Tool("log_activity", "Log an activity",
         "Add an entry (message, sink_item_created or state_updated) to a session's timeline.",
         ActivityCreate, Activity, "agent_session_activities:write", log_activity),
    Tool("update_session", "Update a session",
         "Change a session's status (completed or failed ends it), state, metadata or error_message.",
         UpdateSession, AgentSession, "agent_sessions:write", update_session),
    Tool("get_state", "Read a state", "Read a value of the workspace's namespaced memory.",
         StateName, State, "states:read", get_state, read_only=True),
    Tool("set_state", "Write a state",
         "Write a value of the workspace's namespaced memory; if_match writes only over that version, only_new "
         "only creates.",
         SetState, State, "states:write", set_state),
]
TOOLS_BY_NAME = {tool.name: tool for tool in TOOLS}
