"""Asking a human in one call: ``client.ask(...)`` and ``@requires_approval``.

``ask`` finds or makes what a question needs (an agent by name, a session once per process), creates
the input request, shows it in the notebook while it waits (when running in a kernel) and waits on the
event stream, never polling. What it returns is an ``Answer``; what a person refuses raises nothing by
itself (``answer.approved`` is False), while ``@requires_approval`` turns a rejection into ``Rejected``.

Only HTTP is spoken; IPython is used when present (to turn displayable objects into MIME bundles and to
show the question in the cell), never required.
"""

from __future__ import annotations

import base64
import functools
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

#: The MIME type of a question shown in a notebook cell while ``ask`` waits; JupyterLab's extension
#: draws it as the form (other frontends show the text beside it).
INPUT_REQUEST_MIME = "application/vnd.opensink.input-request+json"
#: The display types a request's context may carry (the server refuses others).
CONTEXT_TYPES = ("text/plain", "text/markdown", "text/html", "image/png", "image/jpeg", "image/svg+xml",
                 "application/json", "application/vnd.vegalite.v5+json")
#: The answer's form for a question that offers decisions and asks for nothing more.
NO_FIELDS: dict[str, Any] = {"type": "object", "properties": {}}
APPROVE_OR_REJECT = ["approve", "reject"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Answer:
    """What the person answered: their ``decision`` (``approve``, ``reject``, ``respond``; None for a plain
    answer), the ``response`` (the form's JSON), their ``comment``, the ``changes`` they made to what was
    proposed (a JSON Patch; ``[]``: as proposed) and who they are (``resolved_by_name``)."""

    request_id: str
    decision: str | None
    response: dict[str, Any] | None
    comment: str | None = None
    changes: list[dict[str, Any]] | None = None
    resolved_by_name: str | None = None
    request: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def approved(self) -> bool:
        """Approved (a plain answer counts as approved when its form says ``approved: true``)."""
        if self.decision is not None:
            return self.decision == "approve"
        return bool((self.response or {}).get("approved"))

    @classmethod
    def of(cls, request: dict[str, Any]) -> Answer:
        return cls(request_id=request["id"], decision=request.get("decision"), response=request.get("response"),
                   comment=request.get("comment"), changes=request.get("changes"),
                   resolved_by_name=request.get("resolved_by_name"), request=request)


class Rejected(Exception):
    """The person rejected (or replied instead of approving); ``comment`` says why."""

    def __init__(self, answer: Answer):
        self.answer = answer
        self.comment = answer.comment
        what = "replied" if answer.decision == "respond" else "rejected"
        by = f" by {answer.resolved_by_name}" if answer.resolved_by_name else ""
        super().__init__(f"{what}{by}" + (f": {answer.comment}" if answer.comment else ""))


def default_agent_name() -> str:
    """The agent a question is asked as when none is named: ``OPENSINK_AGENT_NAME``, else the script's
    file name, else "notebook" (in a kernel)."""
    named = os.environ.get("OPENSINK_AGENT_NAME")
    if named:
        return named
    if "ipykernel" in sys.modules:
        return "notebook"
    script = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else ""
    return script or "python"


def question(title: str, schema: dict[str, Any] | None, message: str, defaults: dict[str, Any] | None,
             context: Any, decisions: list[str] | None) -> dict[str, Any]:
    """The input request's own fields. No schema: an approve/reject question with no form."""
    if schema is None:
        schema, decisions = NO_FIELDS, decisions or APPROVE_OR_REJECT
    body: dict[str, Any] = {"key": title[:255], "title": title, "message": message, "schema": schema}
    if defaults is not None:
        body["defaults"] = defaults
    if decisions is not None:
        body["decisions"] = list(decisions)
    if context is not None:
        body["context"] = display_items(context)
    return body


def display_items(context: Any) -> list[dict[str, Any]]:
    """Context as the API takes it: each object as a display item ``{"title"?, "data": {mime: value}}``.

    An item may be a ready item (a dict with ``data``), a ``(title, object)`` pair, a string (text), or
    any object IPython can display (a DataFrame, a figure): it is shown as IPython would show it.
    """
    items = context if isinstance(context, list) else [context]
    shown = []
    for item in items:
        title = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            title, item = item
        if isinstance(item, dict) and isinstance(item.get("data"), dict):
            shown.append(item)
            continue
        entry: dict[str, Any] = {"data": mime_bundle(item)}
        if title:
            entry["title"] = title
        shown.append(entry)
    return shown


def mime_bundle(obj: Any) -> dict[str, Any]:
    """The types of ``obj`` a request may carry, richest included (IPython's formatters when present)."""
    if isinstance(obj, str):
        return {"text/plain": obj}
    if isinstance(obj, bytes) and obj[:8] == b"\x89PNG\r\n\x1a\n":
        return {"image/png": base64.b64encode(obj).decode()}
    data: dict[str, Any] = {}
    try:
        from IPython.core.formatters import format_display_data
    except ImportError:
        format_display_data = None
    if format_display_data is not None:
        found, _ = format_display_data(obj)
        for mime, value in found.items():
            if mime not in CONTEXT_TYPES:
                continue
            if isinstance(value, bytes):
                value = base64.b64encode(value).decode()
            data[mime] = value
    data.setdefault("text/plain", repr(obj))
    return data


def in_a_kernel() -> bool:
    """Running in a Jupyter kernel (so the question can be shown in the cell's output)."""
    shell = sys.modules.get("IPython") and getattr(sys.modules["IPython"], "get_ipython", lambda: None)()
    return shell is not None and "ipykernel" in sys.modules


def waiting_display(request: dict[str, Any], link: str | None) -> dict[str, Any]:
    """The cell output while ``ask`` waits: the question for the extension's renderer, and text beside it."""
    where = f"answer it in the JupyterLab inbox" + (f" or at {link}" if link else "")
    text = f"Waiting for an answer to {request['title']!r} ({where})."
    return {INPUT_REQUEST_MIME: {"request": request, "link": link}, "text/plain": text}


def answered_display(request: dict[str, Any]) -> dict[str, Any]:
    """The same output once answered (here or anywhere else)."""
    answer = Answer.of(request)
    verdict = {"approve": "Approved", "reject": "Rejected", "respond": "Replied"}.get(answer.decision or "",
                                                                                   "Answered")
    by = f" by {answer.resolved_by_name}" if answer.resolved_by_name else ""
    text = f"{verdict}{by}: {request['title']}" + (f" ({answer.comment})" if answer.comment else "")
    return {INPUT_REQUEST_MIME: {"request": request, "link": None}, "text/plain": text}


class CellDisplay:
    """The question in the running cell's output, updated in place when it is answered."""

    def __init__(self) -> None:
        self._handle: Any = None

    def show(self, bundle: dict[str, Any]) -> None:
        from IPython.display import display

        self._handle = display(bundle, raw=True, display_id=True)

    def update(self, bundle: dict[str, Any]) -> None:
        if self._handle is not None:
            self._handle.update(bundle, raw=True)


# -- @requires_approval ------------------------------------------------------------------------------
@dataclass
class Approval:
    """What a call of the wrapped function asks: its arguments as the proposal, their types as the form."""

    fn: Callable[..., Any]
    title: str
    message: str

    def ask_for(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[dict[str, Any], inspect.BoundArguments]:
        from pydantic import TypeAdapter
        from pydantic_core import to_jsonable_python

        signature = inspect.signature(self.fn)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        properties: dict[str, Any] = {}
        required = []
        for name, parameter in signature.parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            annotation = parameter.annotation
            schema = {} if annotation is inspect.Parameter.empty else TypeAdapter(annotation).json_schema()
            properties[name] = {**schema, "title": name.replace("_", " ").capitalize()}
            required.append(name)
        proposal = {name: to_jsonable_python(bound.arguments[name]) for name in properties}
        body = {"title": self.title, "message": self.message,
                "schema": {"type": "object", "properties": properties, "required": required},
                "defaults": proposal, "decisions": APPROVE_OR_REJECT}
        return body, bound

    def call_with(self, answer: Answer, bound: inspect.BoundArguments) -> tuple[tuple, dict[str, Any]]:
        """The arguments to call with: the approved ones (edited or not), in their annotated types."""
        from pydantic import TypeAdapter

        if not answer.approved:
            raise Rejected(answer)
        signature = inspect.signature(self.fn)
        for name, value in (answer.response or {}).items():
            parameter = signature.parameters.get(name)
            if parameter is None:
                continue
            annotation = parameter.annotation
            bound.arguments[name] = value if annotation is inspect.Parameter.empty else \
                TypeAdapter(annotation).validate_python(value)
        return bound.args, bound.kwargs


def requires_approval(title: str | None = None, *, message: str | None = None, client: Any = None,
                      agent: str | None = None, timeout: float | None = None) -> Callable[[F], F]:
    """Wrap a function (sync or async) so that each call first asks a person: the call's arguments are the
    proposal (editable in the form, typed by the function's annotations); it then runs with the approved
    arguments, or raises ``Rejected`` with the person's reason.

    ``client``: a ``Client`` (an ``AsyncClient`` for an async function); default: one from the environment.
    """

    def wrap(fn: F) -> F:
        approval = Approval(fn, title or f"Run {fn.__name__}?",
                            message or (inspect.getdoc(fn) or f"{fn.__name__} wants to run with these arguments."))

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                from . import AsyncClient

                body, bound = approval.ask_for(args, kwargs)
                asker = client or AsyncClient()
                answer = await asker.ask(body.pop("title"), agent=agent, timeout=timeout, **body)
                call_args, call_kwargs = approval.call_with(answer, bound)
                return await fn(*call_args, **call_kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            from . import Client

            body, bound = approval.ask_for(args, kwargs)
            asker = client or Client()
            answer = asker.ask(body.pop("title"), agent=agent, timeout=timeout, **body)
            call_args, call_kwargs = approval.call_with(answer, bound)
            return fn(*call_args, **call_kwargs)

        return run  # type: ignore[return-value]

    return wrap
