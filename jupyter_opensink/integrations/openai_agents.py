"""The OpenAI Agents SDK's tool approvals answered by a person through this server.

A tool declared with ``needs_approval`` stops the SDK's run with an interruption; here each interruption
becomes an input request (the call's arguments as the proposal, the tool's parameter schema as the form),
the person's answer is applied to the run state (``state.approve`` / ``state.reject``) and the run goes
on until it finishes::

    result = run(agent, "Pay the invoice")              # Runner.run_sync, asking as it goes
    result = await arun(agent, "Pay the invoice")       # Runner.run, in a notebook or any event loop

The serialized run state stays in the session's ``state`` while a question is open, so a run whose
process stopped (or whose ``timeout`` passed: ``ApprovalPending``) is continued anywhere with
``resume(agent, session_id)`` / ``aresume``, given an agent built as the first one was.

The SDK binds an approval to the exact call it approves and offers no way to run a call with other
arguments. So an approval with edits is given back to the model as the corrected call to make (the
original call does not run); when the model makes exactly that call, it runs without asking again.

Only HTTP is spoken to the server, through the client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agents import Agent, Runner, RunResult, RunState
from agents.items import ToolApprovalItem

from ..client import Answer, AsyncClient, Client
from ..client.asking import APPROVE_OR_REJECT, question
from ..client.types import AgentSession

#: What a session's ``state`` says it holds, so a resume knows the run is this SDK's.
FRAMEWORK = "openai-agents"


class ApprovalPending(TimeoutError):
    """No answer within ``timeout``: the run is paused with its state in the session. The questions stay
    open; ``resume(agent, session_id)`` (here or in another process) waits for them and goes on."""

    def __init__(self, session_id: str, request_id: str, timeout: float | None):
        self.session_id, self.request_id = session_id, request_id
        super().__init__(f"no answer to input request {request_id} within {timeout} s; the run is paused in "
                         f"session {session_id}: resume(agent, {session_id!r}) continues it")


@dataclass
class ToolCall:
    """What an interruption asks to run: the call's id, the tool's name and its arguments (when they are a
    JSON object, as a function tool's are)."""

    call_id: str
    tool: str
    arguments: dict[str, Any] | None

    @classmethod
    def of(cls, item: ToolApprovalItem) -> ToolCall:
        raw = item.raw_item
        found = raw.get if isinstance(raw, dict) else lambda name: getattr(raw, name, None)
        call_id = found("call_id") or found("id") or ""
        arguments: Any = found("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                arguments = None
        return cls(call_id=str(call_id), tool=item.tool_name or str(found("name") or "tool"),
                   arguments=arguments if isinstance(arguments, dict) else None)


@dataclass
class Paused:
    """What the session's ``state`` holds while the run waits: the SDK's run state, the open questions (each
    an input request for one call), and the edited calls the person approved, run when the model makes them."""

    run_state: dict[str, Any]
    asked: dict[str, str]  # call id -> input request id
    corrections: list[dict[str, Any]] = field(default_factory=list)  # {"tool", "arguments"}

    def saved(self) -> dict[str, Any]:
        return {"framework": FRAMEWORK, "run_state": self.run_state, "asked": self.asked,
                "corrections": self.corrections}

    @classmethod
    def of(cls, session: AgentSession) -> Paused:
        state = session.get("state") or {}
        if state.get("framework") != FRAMEWORK or "run_state" not in state:
            raise ValueError(f"session {session['id']} holds no paused OpenAI Agents run")
        return cls(run_state=state["run_state"], asked=dict(state.get("asked") or {}),
                   corrections=list(state.get("corrections") or []))

    def corrected(self, call: ToolCall) -> bool:
        """The model made a call the person already approved as edited: it runs without asking again."""
        for correction in self.corrections:
            if correction["tool"] == call.tool and correction["arguments"] == call.arguments:
                self.corrections.remove(correction)
                return True
        return False


def function_tool_of(item: ToolApprovalItem) -> Any:
    """The agent's tool the interruption is for (its description and parameter schema), None if not found."""
    for tool in getattr(item.agent, "tools", None) or []:
        if getattr(tool, "name", None) == item.tool_name:
            return tool
    return None


def last_model_message(result: RunResult) -> str | None:
    """What the model said in the turn that made the calls, if it said anything."""
    if not result.raw_responses:
        return None
    texts = [part.text for output in result.raw_responses[-1].output if getattr(output, "type", None) == "message"
             for part in getattr(output, "content", []) if getattr(part, "type", None) == "output_text"]
    return "\n".join(texts) or None


def question_for(item: ToolApprovalItem, said: str | None) -> dict[str, Any]:
    """The input request for one interruption: the arguments as the proposal, editable in a form typed by
    the tool's parameter schema when the call is a function tool's; otherwise approve or reject only."""
    call = ToolCall.of(item)
    tool = function_tool_of(item)
    description = getattr(tool, "description", None) or ""
    schema = getattr(tool, "params_json_schema", None) if call.arguments is not None else None
    agent_name = getattr(item.agent, "name", "agent")
    context: list[Any] = [("Tool", f"{call.tool}: {description}" if description else call.tool)]
    context.append({"title": "Arguments", "data": {"application/json": call.arguments if call.arguments
                                                   is not None else _jsonable(item.raw_item)}})
    if said:
        context.append(("The model said", said))
    context.append(("Agent", agent_name))
    return question(f"Run {call.tool}?", schema, description or f"{agent_name} wants to call {call.tool}.",
                    call.arguments if schema is not None else None, context, APPROVE_OR_REJECT)


def correction_message(call: ToolCall, edited: dict[str, Any], answer: Answer) -> str:
    """What the model reads when the person approved the call with other arguments."""
    by = answer.resolved_by_name or "the person approving it"
    note = f" Their note: {answer.comment}" if answer.comment else ""
    return (f"Not run as called: {by} approved {call.tool} with changed arguments. Call {call.tool} again "
            f"with exactly these arguments to run it: {json.dumps(edited)}.{note}")


def decide(state: RunState, item: ToolApprovalItem, answer: Answer, paused: Paused) -> None:
    """Apply the person's answer to the run state: approve; reject with their reason as the message the
    model sees (the SDK's default message without one); an edited approval as a correction (see above)."""
    call = ToolCall.of(item)
    if not answer.approved:
        state.reject(item, rejection_message=answer.comment or None)
        return
    edited = answer.response if call.arguments is not None and answer.changes else None
    if edited is None or edited == call.arguments:
        state.approve(item)
        return
    paused.corrections.append({"tool": call.tool, "arguments": edited})
    state.reject(item, rejection_message=correction_message(call, edited, answer))


def interruption(state: RunState, call_id: str) -> ToolApprovalItem:
    for item in state.get_interruptions():
        if ToolCall.of(item).call_id == call_id:
            return item
    raise ValueError(f"the run state has no pending call {call_id}")


def finished(result: RunResult) -> dict[str, Any]:
    """The session's state once the run is over: its final output."""
    return {"framework": FRAMEWORK, "final_output": _jsonable(result.final_output)}


def _jsonable(value: Any) -> Any:
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value, fallback=str)


def _named(agents: Iterable[Any], name: str) -> Any:
    return next((a for a in agents if a["name"] == name), None)


def _why(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


# -- sync: Runner.run_sync -------------------------------------------------------------------------------
def run(agent: Agent[Any], input: Any, *, client: Client | None = None, session_id: str | None = None,
        agent_name: str | None = None, timeout: float | None = None, **run_options: Any) -> RunResult:
    """``Runner.run_sync(agent, input, **run_options)``, each tool approval asked of a person on the way.

    The questions go to session ``session_id``, or to one made for this run under the agent named
    ``agent_name`` (default: the SDK agent's name). ``timeout`` bounds each wait for an answer
    (``ApprovalPending`` past it; the run stays resumable). Returns the finished run's result.
    """
    client = client or Client()
    session = _session(client, session_id, agent_name or agent.name)
    return _drive(client, session, agent, input, Paused({}, {}), timeout, run_options)


def resume(agent: Agent[Any], session_id: str, *, client: Client | None = None, timeout: float | None = None,
           **run_options: Any) -> RunResult:
    """Continue a run paused in session ``session_id`` (by this process or another): wait for the open
    questions, apply the answers, run on. ``agent`` must be built as the one the run started with.
    (Outside any event loop; in a notebook, ``await aresume(...)``.)"""
    client = client or Client()
    session = client.agent_sessions.get(session_id)
    paused = Paused.of(session)
    state = asyncio.run(RunState.from_json(agent, paused.run_state))
    return _drive(client, session, agent, state, paused, timeout, run_options)


def _drive(client: Client, session: AgentSession, agent: Agent[Any], run_from: Any, paused: Paused,
           timeout: float | None, run_options: dict[str, Any]) -> RunResult:
    """Run from the input (or a paused state, once the open questions are answered) until the run
    finishes, asking at each interruption; the session completes, or fails saying why."""
    try:
        while True:
            for call_id, request_id in paused.asked.items():
                try:
                    answer = Answer.of(dict(client.wait_for_resolution(request_id, timeout)))
                except TimeoutError:
                    raise ApprovalPending(session["id"], request_id, timeout) from None
                decide(run_from, interruption(run_from, call_id), answer, paused)
            result = Runner.run_sync(agent, run_from, **run_options)
            if not result.interruptions:
                client.agent_sessions.update(session["id"], status="completed", state=finished(result))
                return result
            run_from, paused = result.to_state(), Paused({}, {}, paused.corrections)
            said = last_model_message(result)
            for item in result.interruptions:
                call = ToolCall.of(item)
                if paused.corrected(call):
                    run_from.approve(item)
                    continue
                request = client.input_requests.create(session_id=session["id"], agent_id=session["agent_id"],
                                                       **question_for(item, said))
                paused.asked[call.call_id] = request["id"]
            paused.run_state = run_from.to_json()
            client.agent_sessions.update(session["id"], state=paused.saved())
    except TimeoutError:
        raise
    except Exception as error:
        client.agent_sessions.update(session["id"], status="failed", error_message=_why(error))
        raise


def _session(client: Client, session_id: str | None, agent_name: str) -> AgentSession:
    if session_id:
        return client.agent_sessions.get(session_id)
    found = _named(client.agents.iter(), agent_name) or client.agents.create(name=agent_name)
    return client.agent_sessions.create(agent_id=found["id"], metadata={"framework": FRAMEWORK})


# -- async: Runner.run -----------------------------------------------------------------------------------
async def arun(agent: Agent[Any], input: Any, *, client: AsyncClient | None = None, session_id: str | None = None,
               agent_name: str | None = None, timeout: float | None = None, **run_options: Any) -> RunResult:
    """``run`` as a coroutine, over ``Runner.run`` (for notebooks and any event loop)."""
    client = client or AsyncClient()
    session = await _asession(client, session_id, agent_name or agent.name)
    return await _adrive(client, session, agent, input, Paused({}, {}), timeout, run_options)


async def aresume(agent: Agent[Any], session_id: str, *, client: AsyncClient | None = None,
                  timeout: float | None = None, **run_options: Any) -> RunResult:
    """``resume`` as a coroutine."""
    client = client or AsyncClient()
    session = await client.agent_sessions.get(session_id)
    paused = Paused.of(session)
    state = await RunState.from_json(agent, paused.run_state)
    return await _adrive(client, session, agent, state, paused, timeout, run_options)


async def _adrive(client: AsyncClient, session: AgentSession, agent: Agent[Any], run_from: Any,
                  paused: Paused, timeout: float | None, run_options: dict[str, Any]) -> RunResult:
    """``_drive`` as a coroutine."""
    try:
        while True:
            for call_id, request_id in paused.asked.items():
                try:
                    answer = Answer.of(dict(await client.wait_for_resolution(request_id, timeout)))
                except TimeoutError:
                    raise ApprovalPending(session["id"], request_id, timeout) from None
                decide(run_from, interruption(run_from, call_id), answer, paused)
            result = await Runner.run(agent, run_from, **run_options)
            if not result.interruptions:
                await client.agent_sessions.update(session["id"], status="completed", state=finished(result))
                return result
            run_from, paused = result.to_state(), Paused({}, {}, paused.corrections)
            said = last_model_message(result)
            for item in result.interruptions:
                call = ToolCall.of(item)
                if paused.corrected(call):
                    run_from.approve(item)
                    continue
                request = await client.input_requests.create(session_id=session["id"],
                                                             agent_id=session["agent_id"], **question_for(item, said))
                paused.asked[call.call_id] = request["id"]
            paused.run_state = run_from.to_json()
            await client.agent_sessions.update(session["id"], state=paused.saved())
    except TimeoutError:
        raise
    except Exception as error:
        await client.agent_sessions.update(session["id"], status="failed", error_message=_why(error))
        raise


async def _asession(client: AsyncClient, session_id: str | None, agent_name: str) -> AgentSession:
    if session_id:
        return await client.agent_sessions.get(session_id)
    agents = [a async for a in client.agents.iter()]
    found = _named(agents, agent_name) or await client.agents.create(name=agent_name)
    return await client.agent_sessions.create(agent_id=found["id"], metadata={"framework": FRAMEWORK})
