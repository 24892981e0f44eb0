"""Pydantic AI's tool approvals answered through this server.

A Pydantic AI agent pauses a run when the model calls a tool that needs approval (registered with
``requires_approval=True``, or raising ``ApprovalRequired``): the run ends with ``DeferredToolRequests``
as its output. ``run_sync`` / ``run`` drive such a run to its end: each call waiting for approval becomes
an input request in the run's session (the call's arguments as the proposal, the tool's parameter schema
as the form, the tool and what the model said as context); each answer becomes the ``DeferredToolResults``
entry Pydantic AI expects (``ToolApproved``, with ``override_args`` when the person edited the arguments,
or ``ToolDenied`` carrying their reason, which is what the model reads next), and the run continues from
its message history until the model gives its final output.

The message history and the pending requests are kept in the session's ``state`` (under
``"pydantic_ai"``) at every pause, so a run stopped while it waits (a timeout, a process that ended) is
continued by ``resume_sync`` / ``resume`` in any process that has the same agent.

``InboxApprovals`` asks the same questions from inside a run instead (a capability answering the run's
deferred calls, as ``HandleDeferredToolCalls`` does): the run waits for the person in place and keeps its
own output type, but it lives in its process and cannot be resumed elsewhere.

Only HTTP is spoken to the server; Pydantic AI is imported here alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import DeferredToolRequests, DeferredToolResults, ToolApproved, ToolDenied
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.tools import ToolDefinition

from ..client import AsyncClient, Client, InputRequestExpired, NotFound
from ..client.asking import APPROVE_OR_REJECT, Answer, default_agent_name, question
from ._asking import expiring, in_session, waiting_time

__all__ = ["STATE_KEY", "InboxApprovals", "resume", "resume_sync", "run", "run_sync"]

#: Where a run's message history and pending approvals are kept in the session's ``state``.
STATE_KEY = "pydantic_ai"
#: What the model reads when a call is rejected without a reason.
REJECTED_WITHOUT_REASON = "The person reviewing this tool call rejected it."
#: What the model reads for a call nobody decided on in time (``InboxApprovals`` with a ``timeout``).
NO_DECISION = "No one decided on this tool call in time, so it did not run."
#: The form of a tool whose parameter schema the run did not show us (a call made before this process).
ANY_ARGUMENTS: dict[str, Any] = {"type": "object"}


@dataclass
class ToolCatalog(AbstractCapability[Any]):
    """The tool definitions the model was offered in this run, so each approval's form is the tool's own
    parameter schema (whatever toolset or ``prepare`` function produced it). It changes no tool."""

    tools: dict[str, ToolDefinition] = field(default_factory=dict, init=False)

    async def prepare_tools(self, ctx: Any, tool_defs: list[ToolDefinition]) -> list[ToolDefinition]:
        self.tools.update((tool.name, tool) for tool in tool_defs)
        return tool_defs


@dataclass(frozen=True)
class Pending:
    """A call waiting for a person: the tool call and the input request that asks about it."""

    tool_call_id: str
    tool_name: str
    request_id: str

    def as_state(self) -> dict[str, str]:
        return {"tool_call_id": self.tool_call_id, "tool_name": self.tool_name, "request_id": self.request_id}


# -- what is asked, and what the answers become (no I/O) ----------------------------------------------
def approval_question(call: ToolCallPart, requests: DeferredToolRequests, history: Sequence[ModelMessage],
                      tools: dict[str, ToolDefinition]) -> dict[str, Any]:
    """The input request for one call: its arguments (as the tool will receive them) proposed in the tool's
    own form; the tool, its arguments and the model's words shown beside it."""
    tool = tools.get(call.tool_name)
    arguments = requests.validated_args.get(call.tool_call_id) or call.args_as_dict()
    description = tool.description if tool is not None and tool.description else None
    context: list[Any] = [{"title": "Tool", "data": {
        "text/markdown": f"**{call.tool_name}**" + (f"\n\n{description}" if description else ""),
        "text/plain": call.tool_name + (f": {description}" if description else "")}},
        {"title": "Arguments", "data": {"application/json": arguments,
                                        "text/plain": json.dumps(arguments, indent=2, default=str)}}]
    said = last_words(history)
    if said:
        context.append({"title": "The model said", "data": {"text/markdown": said, "text/plain": said}})
    metadata = requests.metadata.get(call.tool_call_id)
    if metadata:
        context.append({"title": "Metadata", "data": {
            "application/json": metadata, "text/plain": json.dumps(metadata, indent=2, default=str)}})
    schema = tool.parameters_json_schema if tool is not None else ANY_ARGUMENTS
    message = description or f"The agent wants to call {call.tool_name} with these arguments."
    return question(f"Run {call.tool_name}?", schema, message, arguments, context, APPROVE_OR_REJECT)


def last_words(history: Sequence[ModelMessage]) -> str:
    """The text of the model's last response (what it said while asking for the tool), if any."""
    for message in reversed(history):
        if isinstance(message, ModelResponse):
            return "\n\n".join(part.content for part in message.parts if isinstance(part, TextPart)).strip()
    return ""


def decided(answer: Answer) -> ToolApproved | ToolDenied:
    """The approval result Pydantic AI expects for the person's answer: approved as proposed, approved with
    the edited arguments, or denied with their reason (what the model reads in place of the tool's result)."""
    if answer.approved:
        edited = answer.changes if answer.changes is not None else answer.response
        return ToolApproved(override_args=dict(answer.response or {}) if edited else None)
    return ToolDenied(answer.comment or REJECTED_WITHOUT_REASON)


def results_of(answers: list[tuple[Pending, Answer]]) -> DeferredToolResults:
    return DeferredToolResults(
        approvals={pending.tool_call_id: decided(answer) for pending, answer in answers},
        answered_by={pending.tool_call_id: answer.resolved_by_name for pending, answer in answers
                     if answer.resolved_by_name})


def saved(history: Sequence[ModelMessage], pending: list[Pending]) -> dict[str, Any]:
    """The run as the session keeps it: the message history (JSON) and the calls still waiting."""
    return {"messages": ModelMessagesTypeAdapter.dump_python(list(history), mode="json"),
            "pending": [p.as_state() for p in pending]}


def restored(session: Mapping[str, Any]) -> tuple[list[ModelMessage], list[Pending]]:
    """The message history and the pending calls a session keeps (``ValueError`` when it holds no run that
    waits for approvals)."""
    kept = (session.get("state") or {}).get(STATE_KEY)
    if not kept:
        raise ValueError(f"session {session['id']} holds no Pydantic AI run")
    pending = [Pending(**p) for p in kept.get("pending") or []]
    if not pending:
        raise ValueError(f"session {session['id']}'s Pydantic AI run waits for no approval: "
                         "nothing to resume")
    return ModelMessagesTypeAdapter.validate_python(kept["messages"]), pending


def run_options(agent: Any, options: dict[str, Any], catalog: ToolCatalog) -> dict[str, Any]:
    """The keyword arguments of every ``agent.run`` of the drive: the caller's, with ``DeferredToolRequests``
    among the output types (so a call needing approval ends the run instead of failing it) and the catalog
    among the capabilities."""
    options = dict(options)
    output_type = options.get("output_type")
    if output_type is None and not _includes_deferred(agent.output_type):
        options["output_type"] = [*_as_list(agent.output_type), DeferredToolRequests]
    elif output_type is not None and not _includes_deferred(output_type):
        options["output_type"] = [*_as_list(output_type), DeferredToolRequests]
    options["capabilities"] = [*(options.get("capabilities") or []), catalog]
    return options


def _as_list(output_type: Any) -> list[Any]:
    return list(output_type) if isinstance(output_type, (list, tuple)) else [output_type]


def _includes_deferred(output_type: Any) -> bool:
    return any(kind is DeferredToolRequests for kind in _as_list(output_type))


def waits_for_approval(output: Any) -> bool:
    """The run paused for approvals alone. Calls deferred for outside execution (``CallDeferred``, external
    tools) are the caller's: a run that ends with them is returned as it is."""
    return isinstance(output, DeferredToolRequests) and bool(output.approvals) and not output.calls


def _agent_name(agent: Any, named: str | None) -> str:
    return named or getattr(agent, "name", None) or default_agent_name()


#: What a session made for a run says about it.
SESSION_METADATA = {"framework": "pydantic-ai"}


def finished(output: Any) -> dict[str, Any]:
    """The session's status once the drive stops: completed, unless calls deferred for outside execution
    are left for the caller (the run then goes on elsewhere)."""
    return {} if isinstance(output, DeferredToolRequests) else {"status": "completed"}


# -- sync -------------------------------------------------------------------------------------------------
def _session(client: Client, agent_name: str, session_id: str | None) -> Mapping[str, Any]:
    if session_id is not None:
        return client.agent_sessions.get(session_id)
    found = next((a for a in client.agents.iter() if a["name"] == agent_name), None)
    found = found or client.agents.create(name=agent_name)
    return client.agent_sessions.create(agent_id=found["id"], metadata=SESSION_METADATA)


def run_sync(agent: Any, user_prompt: Any = None, *, client: Client | None = None,
             session_id: str | None = None, agent_name: str | None = None, timeout: float | None = None,
             **run_options_: Any) -> Any:
    """Run ``agent`` (``agent.run_sync``) until it finishes, each tool approval answered by a person.

    ``session_id``: the session the questions are asked in (default: one made for this run, under an
    agent named ``agent_name``, else the Pydantic AI agent's ``name``, else the script's name).
    ``timeout``: how long each answer is awaited; ``TimeoutError`` leaves the run in the session, for
    ``resume_sync``. Other keyword arguments go to every ``agent.run_sync`` (``deps``,
    ``message_history``, ``model_settings``, ...).
    Returns the last ``AgentRunResult`` (its ``output`` is ``DeferredToolRequests`` only when the model
    called tools deferred for outside execution, which are the caller's to run).
    """
    client = client or Client()
    session = _session(client, _agent_name(agent, agent_name), session_id)
    catalog = ToolCatalog()
    options = run_options(agent, run_options_, catalog)
    result = _failing_session(client, session, lambda: agent.run_sync(user_prompt, **options))
    return _drive_sync(client, agent, session, result, options, catalog, timeout)


def resume_sync(agent: Any, session_id: str, *, client: Client | None = None,
                timeout: float | None = None, **run_options_: Any) -> Any:
    """Continue a run that ``run_sync`` or ``run`` left waiting in ``session_id`` (in this process or
    another): wait for the pending answers (those already given count at once) and run on until the agent
    finishes."""
    client = client or Client()
    session = client.agent_sessions.get(session_id)
    history, pending = restored(session)
    catalog = ToolCatalog()
    options = run_options(agent, run_options_, catalog)
    result = _continue_sync(client, agent, session, history, pending, options, timeout)
    return _drive_sync(client, agent, session, result, options, catalog, timeout)


def _drive_sync(client: Client, agent: Any, session: Mapping[str, Any], result: Any,
                options: dict[str, Any], catalog: ToolCatalog, timeout: float | None) -> Any:
    while waits_for_approval(result.output):
        history = result.all_messages()
        pending = []
        for call in result.output.approvals:
            body = approval_question(call, result.output, history, catalog.tools)
            request = client.input_requests.create(**in_session(session), **body)
            pending.append(Pending(call.tool_call_id, call.tool_name, request["id"]))
        _keep_sync(client, session, saved(history, pending))
        result = _continue_sync(client, agent, session, history, pending, options, timeout)
    _keep_sync(client, session, saved(result.all_messages(), []), **finished(result.output))
    return result


def _continue_sync(client: Client, agent: Any, session: Mapping[str, Any], history: list[ModelMessage],
                   pending: list[Pending], options: dict[str, Any], timeout: float | None) -> Any:
    answers = [(p, client.await_answer(client.input_requests.get(p.request_id), timeout)) for p in pending]
    run_options_ = {k: v for k, v in options.items() if k != "message_history"}
    return _failing_session(client, session, lambda: agent.run_sync(
        None, message_history=history, deferred_tool_results=results_of(answers), **run_options_))


def _keep_sync(client: Client, session: Mapping[str, Any], run: dict[str, Any], **fields: Any) -> None:
    state = {**(client.agent_sessions.get(session["id"]).get("state") or {}), STATE_KEY: run}
    client.agent_sessions.update(session["id"], state=state, **fields)


def _failing_session(client: Client, session: Mapping[str, Any], step: Any) -> Any:
    """A run step; when the agent fails, so does the session, with the error (then it is raised)."""
    try:
        return step()
    except Exception as error:
        try:
            client.agent_sessions.update(session["id"], status="failed", error_message=_described(error))
        except NotFound:
            pass
        raise


def _described(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:1000]


# -- async ------------------------------------------------------------------------------------------------
async def _asession(client: AsyncClient, agent_name: str, session_id: str | None) -> Mapping[str, Any]:
    if session_id is not None:
        return await client.agent_sessions.get(session_id)
    found = None
    async for candidate in client.agents.iter():
        if candidate["name"] == agent_name:
            found = candidate
            break
    found = found or await client.agents.create(name=agent_name)
    return await client.agent_sessions.create(agent_id=found["id"], metadata=SESSION_METADATA)


async def run(agent: Any, user_prompt: Any = None, *, client: AsyncClient | None = None,
              session_id: str | None = None, agent_name: str | None = None, timeout: float | None = None,
              **run_options_: Any) -> Any:
    """``run_sync`` as a coroutine (``agent.run``), with an ``AsyncClient``."""
    client = client or AsyncClient()
    session = await _asession(client, _agent_name(agent, agent_name), session_id)
    catalog = ToolCatalog()
    options = run_options(agent, run_options_, catalog)
    result = await _afailing_session(client, session, agent.run(user_prompt, **options))
    return await _drive(client, agent, session, result, options, catalog, timeout)


async def resume(agent: Any, session_id: str, *, client: AsyncClient | None = None,
                 timeout: float | None = None, **run_options_: Any) -> Any:
    """``resume_sync`` as a coroutine."""
    client = client or AsyncClient()
    session = await client.agent_sessions.get(session_id)
    history, pending = restored(session)
    catalog = ToolCatalog()
    options = run_options(agent, run_options_, catalog)
    result = await _continue(client, agent, session, history, pending, options, timeout)
    return await _drive(client, agent, session, result, options, catalog, timeout)


async def _drive(client: AsyncClient, agent: Any, session: Mapping[str, Any], result: Any,
                 options: dict[str, Any], catalog: ToolCatalog, timeout: float | None) -> Any:
    while waits_for_approval(result.output):
        history = result.all_messages()
        pending = []
        for call in result.output.approvals:
            body = approval_question(call, result.output, history, catalog.tools)
            request = await client.input_requests.create(**in_session(session), **body)
            pending.append(Pending(call.tool_call_id, call.tool_name, request["id"]))
        await _keep(client, session, saved(history, pending))
        result = await _continue(client, agent, session, history, pending, options, timeout)
    await _keep(client, session, saved(result.all_messages(), []), **finished(result.output))
    return result


async def _continue(client: AsyncClient, agent: Any, session: Mapping[str, Any],
                    history: list[ModelMessage], pending: list[Pending], options: dict[str, Any],
                    timeout: float | None) -> Any:
    answers = [(p, await client.await_answer(await client.input_requests.get(p.request_id), timeout))
               for p in pending]
    run_options_ = {k: v for k, v in options.items() if k != "message_history"}
    return await _afailing_session(client, session, agent.run(
        None, message_history=history, deferred_tool_results=results_of(answers), **run_options_))


async def _keep(client: AsyncClient, session: Mapping[str, Any], run: dict[str, Any], **fields: Any) -> None:
    state = {**((await client.agent_sessions.get(session["id"])).get("state") or {}), STATE_KEY: run}
    await client.agent_sessions.update(session["id"], state=state, **fields)


async def _afailing_session(client: AsyncClient, session: Mapping[str, Any], step: Any) -> Any:
    try:
        return await step
    except Exception as error:
        try:
            await client.agent_sessions.update(session["id"], status="failed",
                                               error_message=_described(error))
        except NotFound:
            pass
        raise


# -- in the run ---------------------------------------------------------------------------------------------
@dataclass
class InboxApprovals(ToolCatalog):
    """A capability that answers a run's tool approvals in place:
    ``Agent(..., capabilities=[InboxApprovals()])`` (or ``capabilities=`` of one run). The run waits while
    a person decides each call, then goes on with the approved calls run (with the edited arguments, if
    edited) and the rejected ones reported to the model with the person's reason; the agent needs no
    ``DeferredToolRequests`` output type.

    ``client``: an ``AsyncClient`` (default: a new one from the environment for each pause). The questions
    go to ``session_id``, else to a session made once per process for the agent named ``agent_name`` (else
    the Pydantic AI agent's name, as ``client.ask`` does). ``timeout``: seconds a question stays open; then
    it expires and the call is denied, the model told that no decision came.
    """

    client: AsyncClient | None = None
    session_id: str | None = None
    agent_name: str | None = None
    timeout: float | None = None

    async def handle_deferred_tool_calls(self, ctx: Any, *,
                                         requests: DeferredToolRequests) -> DeferredToolResults | None:
        if not requests.approvals:
            return None  # calls deferred for outside execution are someone else's
        client = self.client or AsyncClient()
        try:
            named = self.agent_name or getattr(getattr(ctx, "agent", None), "name", None)
            session = await client._asking_session(self.session_id, named)
            asked = []
            for call in requests.approvals:
                body = approval_question(call, requests, ctx.messages, self.tools)
                request = await client.input_requests.create(**in_session(session),
                                                             **expiring(body, self.timeout))
                asked.append((Pending(call.tool_call_id, call.tool_name, request["id"]), request))
            answers = []
            unanswered: dict[str, ToolDenied] = {}
            for pending, request in asked:
                try:
                    answers.append((pending, await client.await_answer(request, waiting_time(self.timeout))))
                except (InputRequestExpired, TimeoutError):
                    unanswered[pending.tool_call_id] = ToolDenied(NO_DECISION)
        finally:
            if self.client is None:
                await client.aclose()
        results = results_of(answers)
        results.approvals.update(unanswered)
        return results

