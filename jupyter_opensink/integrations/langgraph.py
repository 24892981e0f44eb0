"""LangGraph runs whose ``interrupt(...)`` pauses are answered by a person through this server.

``GraphApprovals(graph).invoke(input)`` runs a compiled graph (a ``StateGraph``, or an agent made with
LangChain's ``create_agent``) to its end: each time the run stops on interrupts, every interrupt becomes
input requests in the run's session, the person's answers become the ``Command(resume=...)`` value each
interrupt expects, and the run goes on. ``ainvoke`` does the same with coroutines.

Two interrupt shapes are understood as tool reviews, one request per reviewed tool call (its arguments as
the proposal, editable when the middleware allows an edit):

- LangChain's ``HumanInTheLoopMiddleware`` in its default ``batched`` mode (a ``HITLRequest``: action
  requests and review configs), resumed with ``{"decisions": [...]}`` in the order of the actions;
- the same middleware in ``per_call`` mode (a ``ToolApprovalRequest``), resumed with one decision.

Any other interrupt is a question: its value is the message (text) or the evidence (anything else), the
interrupt's ``response_schema`` (when it is an object schema) is the form and the answer is the resume
value; without one, the person types an answer and that text is the resume value. ``questions=`` turns
interrupts of your own shapes into requests.

Why a session and a thread id: a run stopped in one process (its waiting ran out, the process ended) is
continued in another with ``GraphApprovals(graph).resume(session_id)``. The session's ``state`` holds the
LangGraph thread id and the requests already asked (so no question is asked twice); the graph's
checkpointer holds the run itself, so it must be one both processes reach (a database saver, e.g.
``langgraph-checkpoint-sqlite``'s or ``-postgres``'s; an ``InMemorySaver`` only lives as long as its process).

Like the client, this module only speaks HTTP to the server; LangGraph is imported here alone.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.types import Command, Interrupt

from ..client import AsyncClient, BadRequest, Client
from ..client.asking import Answer, default_agent_name, question

__all__ = ["GraphApprovals", "Questions", "questions_for", "tool_decision"]

#: Where a run keeps what it needs to be continued elsewhere, inside the session's ``state``.
STATE_KEY = "langgraph"
#: The answers a reviewed tool call may get here, by the middleware's decision types that allow them.
TOOL_DECISIONS = (("approve", ("approve", "edit")), ("reject", ("reject",)), ("respond", ("respond",)))
#: ``resume`` continues a run already under way: the graph is not invoked with an input first.
_ALREADY_STARTED = object()
#: A question with no form of its own: the person answers in words, and the words are the resume value.
FREE_TEXT = {"type": "object", "required": ["answer"],
             "properties": {"answer": {"type": "string", "title": "Answer"}}}


@dataclass
class Questions:
    """What one interrupt asks and how the answers resume it.

    ``requests``: input request fields (``title``, ``message``, ``schema``, ``defaults``, ``decisions``,
    ``context`` as ``client.ask`` takes them), one request each; ``resume(answers)``: the value the
    interrupt is resumed with, from the answers in the same order.
    """

    requests: list[dict[str, Any]]
    resume: Callable[[list[Answer]], Any]


# -- interrupts -> questions (no I/O) ------------------------------------------------------------------
def questions_for(interrupt: Interrupt, values: Any = None,
                  tool_schemas: dict[str, dict[str, Any]] | None = None) -> Questions:
    """The questions an interrupt asks, by its shape (see the module's docstring).

    ``values``: the graph's state when it stopped (its last model message is shown as evidence);
    ``tool_schemas``: the argument schema of each tool by name (the form for an edit).
    """
    value = interrupt.value
    said = last_model_message(values)
    if isinstance(value, dict) and isinstance(value.get("action_requests"), list):
        return _review_questions(value, said, tool_schemas or {})
    if isinstance(value, dict) and value.get("type") == "tool_approval" and "name" in value:
        return _approval_question(value, getattr(interrupt, "response_schema", None), said, tool_schemas or {})
    return _plain_question(value, getattr(interrupt, "response_schema", None))


def _review_questions(value: dict[str, Any], said: str | None,
                      tool_schemas: dict[str, dict[str, Any]]) -> Questions:
    """A batched tool review: one request per action; resumed with the decisions in the actions' order."""
    actions: list[dict[str, Any]] = value["action_requests"]
    configs: list[dict[str, Any]] = value.get("review_configs") or []
    reviewed = []
    for index, action in enumerate(actions):
        config = configs[index] if index < len(configs) and configs[index].get("action_name") == action["name"] \
            else next((c for c in configs if c.get("action_name") == action["name"]), {})
        allowed = list(config.get("allowed_decisions") or ["approve", "reject"])
        reviewed.append((action, allowed))
    count = len(actions)
    requests = [_tool_request(action["name"], action.get("args") or {}, action.get("description"), allowed,
                              tool_schemas.get(action["name"]), said, f" ({i} of {count})" if count > 1 else "")
                for i, (action, allowed) in enumerate(reviewed, 1)]

    def resume(answers: list[Answer]) -> dict[str, Any]:
        return {"decisions": [tool_decision(answer, action["name"], action.get("args") or {}, allowed,
                                            tool_schemas.get(action["name"]))
                              for answer, (action, allowed) in zip(answers, reviewed)]}

    return Questions(requests, resume)


def _approval_question(value: dict[str, Any], response_schema: Any, said: str | None,
                       tool_schemas: dict[str, dict[str, Any]]) -> Questions:
    """A per-call tool approval: one request, resumed with one decision. The interrupt's own
    ``response_schema`` says which decisions the tool allows and, for an edit, its arguments' schema."""
    name, args = value["name"], value.get("args") or {}
    allowed = decision_types(response_schema) or ["approve", "reject"]
    schema = edit_arguments_schema(response_schema) or tool_schemas.get(name)
    request = _tool_request(name, args, value.get("description"), allowed, schema, said, "")
    return Questions([request], lambda answers: tool_decision(answers[0], name, args, allowed, schema))


def _tool_request(name: str, args: dict[str, Any], description: str | None, allowed: list[str],
                  schema: dict[str, Any] | None, said: str | None, numbered: str) -> dict[str, Any]:
    """A reviewed tool call as a request: its arguments the proposal, a form for them only when an edit is
    allowed (otherwise they are shown, not offered for change), the decisions the review allows."""
    editable = "edit" in allowed
    about = (schema or {}).get("description")
    tool_said = f"{name}: {about}" if isinstance(about, str) and about.strip() else name
    context: list[Any] = [{"title": "Tool", "data": {"text/markdown": tool_said.replace(name, f"`{name}`", 1),
                                                     "text/plain": tool_said}},
                          {"title": "Arguments", "data": shown(args)}]
    if said:
        context.append({"title": "What the model said", "data": {"text/plain": said}})
    decisions = [ours for ours, theirs in TOOL_DECISIONS if any(t in allowed for t in theirs)]
    return {"title": f"Run {name}?{numbered}", "message": description or f"The agent wants to call {name}.",
            "schema": (schema or inferred_schema(args)) if editable else {"type": "object", "properties": {}},
            "defaults": args, "decisions": decisions or ["approve", "reject"], "context": context}


def tool_decision(answer: Answer, name: str, args: dict[str, Any], allowed: Sequence[str],
                  schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The middleware's decision for a person's answer: approve (as proposed), edit (approved with other
    arguments), reject (the comment is the reason the model reads), respond (the comment is the tool's
    result the model reads)."""
    if answer.decision == "respond":
        return {"type": "respond", "message": answer.comment or ""}
    if not answer.approved:
        return {"type": "reject", **({"message": answer.comment} if answer.comment else {})}
    edited = as_edited(args, answer.response, schema)
    if "edit" in allowed and (edited != args or "approve" not in allowed):
        return {"type": "edit", "edited_action": {"name": name, "args": edited}}
    return {"type": "approve"}


def as_edited(args: dict[str, Any], response: dict[str, Any] | None, schema: dict[str, Any] | None) -> dict[str, Any]:
    """The arguments the person approved: the form's values, less those the form only filled in with the
    schema's default for an argument the model left out (that is no edit)."""
    if not response:
        return args
    defaults = {k: p.get("default") for k, p in ((schema or {}).get("properties") or {}).items()
                if isinstance(p, dict) and "default" in p}
    return {k: v for k, v in response.items() if k in args or k not in defaults or defaults[k] != v}


def _plain_question(value: Any, response_schema: Any) -> Questions:
    """Any other interrupt: its value said (text) or shown (anything else); its ``response_schema`` the
    form when it is an object schema, else the answer is one field (typed by the schema, or free text)."""
    message = value if isinstance(value, str) else ""
    title = message.splitlines()[0][:120] if message.strip() else "The graph is waiting for an answer"
    context = None if isinstance(value, str) else [{"title": "What the graph asks", "data": shown(value)}]
    if isinstance(response_schema, dict) and response_schema.get("type") == "object":
        return Questions([{"title": title, "message": message, "schema": response_schema, "context": context}],
                         lambda answers: answers[0].response)
    schema = FREE_TEXT if not isinstance(response_schema, dict) else {
        "type": "object", "required": ["answer"], "properties": {"answer": {"title": "Answer", **response_schema}}}
    return Questions([{"title": title, "message": message, "schema": schema, "context": context}],
                     lambda answers: (answers[0].response or {}).get("answer"))


def shown(value: Any) -> dict[str, Any]:
    """An interrupt's value as display data: JSON when it is JSON, with its text beside it."""
    try:
        text = json.dumps(value, indent=2, allow_nan=False)
    except (TypeError, ValueError):
        return {"text/plain": repr(value)}
    return {"application/json": value, "text/plain": text}


def decision_types(response_schema: Any) -> list[str]:
    """The decision types a per-call approval's schema admits (the ``type`` constant of each branch)."""
    if not isinstance(response_schema, dict):
        return []
    found = []
    for branch in response_schema.get("oneOf") or response_schema.get("anyOf") or [response_schema]:
        resolved = resolve(response_schema, branch)
        kind = (resolved.get("properties") or {}).get("type") or {}
        for constant in ([kind["const"]] if "const" in kind else kind.get("enum") or []):
            if constant not in found:
                found.append(constant)
    return found


def edit_arguments_schema(response_schema: Any) -> dict[str, Any] | None:
    """The arguments' schema of a per-call approval's edit branch (its ``edited_action.args``), self-contained."""
    if not isinstance(response_schema, dict):
        return None
    for branch in response_schema.get("oneOf") or response_schema.get("anyOf") or [response_schema]:
        resolved = resolve(response_schema, branch)
        properties = resolved.get("properties") or {}
        if (properties.get("type") or {}).get("const") != "edit":
            continue
        action = resolve(response_schema, properties.get("edited_action") or {})
        args = resolve(response_schema, (action.get("properties") or {}).get("args") or {})
        if args.get("type") != "object" or not args.get("properties"):
            return None
        args = copy.deepcopy(args)
        if "$defs" in response_schema and "$ref" in json.dumps(args):
            args["$defs"] = copy.deepcopy(response_schema["$defs"])
        return args
    return None


def resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a local ``$ref`` (``#/$defs/...``) followed."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/") and seen < 20:
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node, seen = target, seen + 1
    return node if isinstance(node, dict) else {}


def inferred_schema(args: dict[str, Any]) -> dict[str, Any]:
    """A form for arguments whose tool gives no schema: each argument typed as its proposed value is."""
    kinds = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"),
             (dict, "object"))
    properties = {}
    for name, value in args.items():
        kind = next((k for t, k in kinds if isinstance(value, t)), None)
        properties[name] = {"title": name.replace("_", " ").capitalize(), **({"type": kind} if kind else {})}
    return {"type": "object", "properties": properties, "required": list(args)}


def last_model_message(values: Any) -> str | None:
    """The text of the newest AI message in the graph's state (what the model said before it paused)."""
    messages = values.get("messages") if isinstance(values, dict) else None
    for message in reversed(messages or []):
        if getattr(message, "type", None) == "ai":
            text = message.text if isinstance(getattr(message, "text", None), str) else message.content
            return text if isinstance(text, str) and text.strip() else None
    return None


def tool_schemas_of(graph: Any) -> dict[str, dict[str, Any]]:
    """Each tool's argument schema by name, from the graph's tool nodes (an agent's ``tools`` node)."""
    schemas: dict[str, dict[str, Any]] = {}
    for node in (getattr(graph, "nodes", None) or {}).values():
        for name, tool in (getattr(getattr(node, "bound", None), "tools_by_name", None) or {}).items():
            declared = getattr(tool, "tool_call_schema", None)
            if isinstance(declared, dict):
                schemas[name] = copy.deepcopy(declared)
            elif hasattr(declared, "model_json_schema"):
                schemas[name] = copy.deepcopy(declared.model_json_schema())
    return schemas


# -- the run ------------------------------------------------------------------------------------------
@dataclass
class _Run:
    """One run's place in its session: the thread it runs on and the requests asked per interrupt."""

    session: dict[str, Any]
    thread: dict[str, str]
    asked: dict[str, list[str]] = field(default_factory=dict)
    made_for_run: bool = False

    @property
    def config(self) -> dict[str, Any]:
        return {"configurable": dict(self.thread)}

    def state(self) -> dict[str, Any]:
        return {**(self.session.get("state") or {}),
                STATE_KEY: {**self.thread, "asked": self.asked, "made_for_run": self.made_for_run}}

    @classmethod
    def of(cls, session: dict[str, Any]) -> _Run:
        saved = (session.get("state") or {}).get(STATE_KEY)
        if not isinstance(saved, dict) or not saved.get("thread_id"):
            raise ValueError(f"session {session['id']} holds no LangGraph run (no thread id in its state)")
        thread = {k: saved[k] for k in ("thread_id", "checkpoint_ns") if isinstance(saved.get(k), str)}
        return cls(session, thread, dict(saved.get("asked") or {}), bool(saved.get("made_for_run")))


def _thread_of(config: dict[str, Any] | None) -> dict[str, str]:
    """The part of a run config that names the run in the checkpointer (made when missing)."""
    configurable = (config or {}).get("configurable") or {}
    thread = {k: str(configurable[k]) for k in ("thread_id", "checkpoint_ns") if configurable.get(k) is not None}
    thread.setdefault("thread_id", uuid.uuid4().hex)
    return thread


def _with_thread(config: dict[str, Any] | None, run: _Run) -> dict[str, Any]:
    merged = dict(config or {})
    merged["configurable"] = {**(merged.get("configurable") or {}), **run.thread}
    return merged


class GraphApprovals:
    """Runs a compiled LangGraph graph to its end, a person answering each interrupt through this server.

    ``client``: a ``Client`` for ``invoke``/``resume``, an ``AsyncClient`` for ``ainvoke``/``aresume``
    (default: one from the environment, as in a kernel Jupyter started). ``agent``: the name the requests
    are asked under (default as ``client.ask``'s). ``session_id``: a session to run in (default: one made for
    each run, completed when the run ends, failed when the graph raises). ``timeout``: seconds to wait for
    each answer (``TimeoutError`` leaves the run resumable). ``questions(interrupt, values)``: the
    ``Questions`` for interrupts of your own shapes (None: the default reading). ``on_request(request)``:
    called with each request as it is asked (to show it, to send a link).

    After a run, ``session_id`` is its session and ``requests`` the requests it asked.
    """

    def __init__(self, graph: Any, *, client: Client | AsyncClient | None = None, agent: str | None = None,
                 session_id: str | None = None, timeout: float | None = None,
                 questions: Callable[[Interrupt, Any], Questions | None] | None = None,
                 on_request: Callable[[dict[str, Any]], None] | None = None):
        self.graph = graph
        self.client = client
        self.agent = agent
        self.session_id = session_id
        self.timeout = timeout
        self.custom_questions = questions
        self.on_request = on_request
        self.requests: list[dict[str, Any]] = []
        self._tool_schemas: dict[str, dict[str, Any]] | None = None

    def questions(self, interrupt: Interrupt, values: Any) -> Questions:
        """What ``interrupt`` asks: your ``questions`` hook's reading when it has one, else the default."""
        custom = self.custom_questions(interrupt, values) if self.custom_questions else None
        if custom is not None:
            return custom
        if self._tool_schemas is None:
            self._tool_schemas = tool_schemas_of(self.graph)
        return questions_for(interrupt, values, self._tool_schemas)

    # -- sync ---------------------------------------------------------------------------------------
    def invoke(self, input: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Run the graph from ``input`` to its end (``graph.invoke``'s ``config`` and keyword arguments)
        and return its final output."""
        with _SyncClient(self.client) as client:
            run = self._start(client, config)
            return self._drive(client, run, input, config, kwargs)

    def resume(self, session_id: str, config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Continue the run kept in session ``session_id`` (made in any process) to its end."""
        with _SyncClient(self.client) as client:
            run = _Run.of(client.agent_sessions.get(session_id))
            self.session_id = session_id
            return self._drive(client, run, _ALREADY_STARTED, config, kwargs)

    def _start(self, client: Client, config: dict[str, Any] | None) -> _Run:
        thread = _thread_of(config)
        if self.session_id:
            run = _Run(client.agent_sessions.get(self.session_id), thread)
            run.session = client.agent_sessions.update(run.session["id"], state=run.state())
        else:
            run = _Run({"state": {}}, thread, made_for_run=True)
            run.session = client.agent_sessions.create(agent_id=self._agent_sync(client)["id"], state=run.state())
            self.session_id = run.session["id"]
        return run

    def _agent_sync(self, client: Client) -> dict[str, Any]:
        name = self.agent or default_agent_name()
        return next((a for a in client.agents.iter() if a["name"] == name), None) or client.agents.create(name=name)

    def _drive(self, client: Client, run: _Run, input: Any, config: dict[str, Any] | None,
               kwargs: dict[str, Any]) -> Any:
        run_config = _with_thread(config, run)
        try:
            output = None if input is _ALREADY_STARTED else self.graph.invoke(input, run_config, **kwargs)
            while True:
                snapshot = self.graph.get_state(run_config)
                if not snapshot.interrupts:
                    break
                resume = self._answers_sync(client, run, snapshot)
                output = self.graph.invoke(Command(resume=resume), run_config, **kwargs)
        except Exception as failure:
            if run.made_for_run and not isinstance(failure, TimeoutError):
                client.agent_sessions.update(run.session["id"], status="failed",
                                             error_message=f"{type(failure).__name__}: {failure}"[:2000])
            raise
        if run.made_for_run:
            client.agent_sessions.update(run.session["id"], status="completed")
        return output if output is not None else snapshot.values

    def _answers_sync(self, client: Client, run: _Run, snapshot: Any) -> dict[str, Any]:
        """Ask every pending interrupt's questions (those not asked yet), then wait for all the answers."""
        asked = [(interrupt, self.questions(interrupt, snapshot.values)) for interrupt in snapshot.interrupts]
        waiting: list[tuple[Interrupt, Questions, list[dict[str, Any]]]] = []
        for interrupt, questions in asked:
            known = run.asked.get(interrupt.id)
            if known:
                requests = [client.input_requests.get(request_id) for request_id in known]
            else:
                requests = [self._ask_sync(client, run, interrupt, i, body)
                            for i, body in enumerate(questions.requests)]
                run.asked[interrupt.id] = [r["id"] for r in requests]
                run.session = client.agent_sessions.update(run.session["id"], state=run.state())
            waiting.append((interrupt, questions, requests))
        resume = {}
        for interrupt, questions, requests in waiting:
            answers = [client.await_answer(request, self.timeout) for request in requests]
            resume[interrupt.id] = questions.resume(answers)
        for interrupt, _, _ in waiting:
            run.asked.pop(interrupt.id, None)
        run.session = client.agent_sessions.update(run.session["id"], state=run.state())
        return resume

    def _ask_sync(self, client: Client, run: _Run, interrupt: Interrupt, index: int,
                  body: dict[str, Any]) -> dict[str, Any]:
        tries = _request_bodies(interrupt, index, body)
        for attempt, fields in enumerate(tries, 1):
            try:
                request = client.input_requests.create(session_id=run.session["id"],
                                                       agent_id=run.session["agent_id"], **fields)
                break
            except BadRequest:
                if attempt == len(tries):
                    raise
        self.requests.append(request)
        if self.on_request:
            self.on_request(request)
        return request

    # -- async --------------------------------------------------------------------------------------
    async def ainvoke(self, input: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """``invoke`` with coroutines (``graph.ainvoke``, an ``AsyncClient``)."""
        async with _AsyncClient(self.client) as client:
            run = await self._astart(client, config)
            return await self._adrive(client, run, input, config, kwargs)

    async def aresume(self, session_id: str, config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """``resume`` with coroutines."""
        async with _AsyncClient(self.client) as client:
            run = _Run.of(await client.agent_sessions.get(session_id))
            self.session_id = session_id
            return await self._adrive(client, run, _ALREADY_STARTED, config, kwargs)

    async def _astart(self, client: AsyncClient, config: dict[str, Any] | None) -> _Run:
        thread = _thread_of(config)
        if self.session_id:
            run = _Run(await client.agent_sessions.get(self.session_id), thread)
            run.session = await client.agent_sessions.update(run.session["id"], state=run.state())
        else:
            run = _Run({"state": {}}, thread, made_for_run=True)
            agent = await self._agent_async(client)
            run.session = await client.agent_sessions.create(agent_id=agent["id"], state=run.state())
            self.session_id = run.session["id"]
        return run

    async def _agent_async(self, client: AsyncClient) -> dict[str, Any]:
        name = self.agent or default_agent_name()
        async for candidate in client.agents.iter():
            if candidate["name"] == name:
                return candidate
        return await client.agents.create(name=name)

    async def _adrive(self, client: AsyncClient, run: _Run, input: Any, config: dict[str, Any] | None,
                      kwargs: dict[str, Any]) -> Any:
        run_config = _with_thread(config, run)
        try:
            output = None if input is _ALREADY_STARTED else await self.graph.ainvoke(input, run_config, **kwargs)
            while True:
                snapshot = await self.graph.aget_state(run_config)
                if not snapshot.interrupts:
                    break
                resume = await self._answers_async(client, run, snapshot)
                output = await self.graph.ainvoke(Command(resume=resume), run_config, **kwargs)
        except Exception as failure:
            if run.made_for_run and not isinstance(failure, TimeoutError):
                await client.agent_sessions.update(run.session["id"], status="failed",
                                                   error_message=f"{type(failure).__name__}: {failure}"[:2000])
            raise
        if run.made_for_run:
            await client.agent_sessions.update(run.session["id"], status="completed")
        return output if output is not None else snapshot.values

    async def _answers_async(self, client: AsyncClient, run: _Run, snapshot: Any) -> dict[str, Any]:
        asked = [(interrupt, self.questions(interrupt, snapshot.values)) for interrupt in snapshot.interrupts]
        waiting: list[tuple[Interrupt, Questions, list[str]]] = []
        for interrupt, questions in asked:
            known = run.asked.get(interrupt.id)
            if not known:
                known = []
                for index, body in enumerate(questions.requests):
                    tries = _request_bodies(interrupt, index, body)
                    for attempt, fields in enumerate(tries, 1):
                        try:
                            request = await client.input_requests.create(
                                session_id=run.session["id"], agent_id=run.session["agent_id"], **fields)
                            break
                        except BadRequest:
                            if attempt == len(tries):
                                raise
                    self.requests.append(request)
                    if self.on_request:
                        self.on_request(request)
                    known.append(request["id"])
                run.asked[interrupt.id] = known
                run.session = await client.agent_sessions.update(run.session["id"], state=run.state())
            waiting.append((interrupt, questions, known))
        resume = {}
        for interrupt, questions, request_ids in waiting:
            answers = [Answer.of(await client.wait_for_resolution(request_id, self.timeout))
                       for request_id in request_ids]
            resume[interrupt.id] = questions.resume(answers)
        for interrupt, _, _ in waiting:
            run.asked.pop(interrupt.id, None)
        run.session = await client.agent_sessions.update(run.session["id"], state=run.state())
        return resume


def _request_bodies(interrupt: Interrupt, index: int, body: dict[str, Any]) -> list[dict[str, Any]]:
    """A question's fields as the API takes them, keyed by the interrupt it answers; then, for a proposal,
    the same with a form inferred from the proposal itself. Why: a model may propose arguments its tool's
    schema refuses (a required one left out, a wrong type), which the server would refuse as defaults;
    the person should still see the call, and decide."""
    def fields(schema: dict[str, Any] | None) -> dict[str, Any]:
        made = question(body["title"], schema, body.get("message") or "", body.get("defaults"),
                        body.get("context"), body.get("decisions"))
        return {**made, "key": f"langgraph:{interrupt.id}:{index}"[:255]}

    tries = [fields(body.get("schema"))]
    defaults = body.get("defaults")
    if isinstance(defaults, dict) and body.get("schema") and (body["schema"].get("properties") or {}):
        inferred = inferred_schema(defaults)
        if inferred != body["schema"]:
            tries.append(fields(inferred))
    return tries


class _SyncClient:
    """The given ``Client``, or one from the environment closed after the run."""

    def __init__(self, given: Any):
        if given is not None and not isinstance(given, Client):
            raise TypeError("invoke and resume need a Client (ainvoke and aresume take an AsyncClient)")
        self.given, self.made = given, None

    def __enter__(self) -> Client:
        if self.given is not None:
            return self.given
        self.made = Client()
        return self.made

    def __exit__(self, *exc: Any) -> None:
        if self.made is not None:
            self.made.close()


class _AsyncClient:
    """The given ``AsyncClient``, or one from the environment closed after the run."""

    def __init__(self, given: Any):
        if given is not None and not isinstance(given, AsyncClient):
            raise TypeError("ainvoke and aresume need an AsyncClient (invoke and resume take a Client)")
        self.given, self.made = given, None

    async def __aenter__(self) -> AsyncClient:
        if self.given is not None:
            return self.given
        self.made = AsyncClient()
        return self.made

    async def __aexit__(self, *exc: Any) -> None:
        if self.made is not None:
            await self.made.aclose()
