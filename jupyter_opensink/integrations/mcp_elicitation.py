"""MCP servers' questions to their user (``elicitation/create``) answered by a person through this server.

An agent that talks to MCP servers with the official ``mcp`` client gives it an elicitation callback;
``ElicitationHandler`` is one: each elicitation becomes an input request and its answer the
``ElicitResult`` the MCP server waits for.

- Form mode: the server's ``requestedSchema`` is the form (its properties' ``default`` values the
  proposal, when they cover every required field). The person may approve (the MCP ``accept``, with what
  they filled in as ``content``) or reject (``decline``). An answer in words (``respond``) is not offered:
  MCP has no place for one, and the hosted form (one submit, no decisions) is not used either, since it
  leaves the person no way to decline.
- URL mode: the link is shown beside the question; approving is the person's consent to open it
  (``accept``), rejecting is ``decline``.
- No answer within ``timeout``: ``cancel``. The input request is created with that expiry, so the inbox
  shows it expired rather than waiting for an answer nobody reads (an expired request ends its session
  as failed, as the server does for every expired request; the next question gets a new session).

Only HTTP is spoken to this server; the ``mcp`` client's types are imported here alone.
"""

from __future__ import annotations

from typing import Any

from mcp.client.session import ClientRequestContext
from mcp.types import ElicitRequestFormParams, ElicitRequestParams, ElicitRequestURLParams, ElicitResult

from ..client import AsyncClient, InputRequestExpired
from ..client.asking import APPROVE_OR_REJECT, Answer, question
from ._asking import expiring, in_session, waiting_time

__all__ = ["ElicitationHandler"]

#: A title is the message's first line, cut to this length.
TITLE_LENGTH = 120


class ElicitationHandler:
    """An ``elicitation_callback`` for ``mcp.client.Client`` (or ``ClientSession``) that asks a person.

    ``client``: the ``AsyncClient`` to ask with (default: one from the environment). The questions go to
    ``session_id`` when given, else to a session made once per process for the agent named ``agent``
    (as ``client.ask`` does). ``timeout``: seconds before an unanswered question is cancelled (None: wait).
    ``server``: how the MCP server is named to the person (default: the name it gave when connecting).
    """

    def __init__(self, client: AsyncClient | None = None, *, session_id: str | None = None,
                 agent: str | None = None, timeout: float | None = None, server: str | None = None):
        self.client = client
        self.session_id = session_id
        self.agent = agent
        self.timeout = timeout
        self.server = server

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        client = self.client or AsyncClient()
        body = self.question_for(params, self._server_name(context))
        session = await client._asking_session(self.session_id, self.agent)
        request = await client.input_requests.create(**in_session(session), **expiring(body, self.timeout))
        try:
            answer = await client.await_answer(request, waiting_time(self.timeout))
        except (InputRequestExpired, TimeoutError):
            return ElicitResult(action="cancel")
        finally:
            if self.client is None:
                await client.aclose()
        return self.result_of(params, answer)

    def _server_name(self, context: ClientRequestContext) -> str | None:
        if self.server:
            return self.server
        info = getattr(context.session, "server_info", None)
        return (getattr(info, "title", None) or getattr(info, "name", None)) if info is not None else None

    @staticmethod
    def question_for(params: ElicitRequestParams, server: str | None) -> dict[str, Any]:
        """The input request for an elicitation: its message as the question, its schema as the form."""
        lines = params.message.strip().splitlines() or ["A question from an MCP server"]
        title = lines[0][:TITLE_LENGTH]
        context: list[Any] = []
        if server:
            context.append({"title": "Asked by", "data": {"text/plain": f"the MCP server {server}"}})
        if isinstance(params, ElicitRequestURLParams):
            context.append({"title": "Link", "data": {"text/markdown": f"[{params.url}]({params.url})",
                                                      "text/plain": params.url}})
            message = params.message + "\n\nApprove to open the link and continue there; reject to decline."
            return question(title, None, message, None, context or None, APPROVE_OR_REJECT)
        schema = params.requested_schema
        return question(title, schema, params.message, proposal(schema), context or None, APPROVE_OR_REJECT)

    @staticmethod
    def result_of(params: ElicitRequestParams, answer: Answer) -> ElicitResult:
        """``accept`` (with the form's content, in form mode) when approved, else ``decline``."""
        if not answer.approved:
            return ElicitResult(action="decline")
        if isinstance(params, ElicitRequestFormParams):
            fields = params.requested_schema.get("properties") or {}
            content = {name: value for name, value in (answer.response or {}).items() if name in fields}
            return ElicitResult(action="accept", content=content)
        return ElicitResult(action="accept")


def proposal(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The form's starting values: the properties' ``default`` values, when they cover every required field
    (a proposal must be a valid answer; otherwise the form starts empty and the person fills it in)."""
    properties = schema.get("properties") or {}
    defaults = {name: spec["default"] for name, spec in properties.items()
                if isinstance(spec, dict) and "default" in spec}
    if not defaults or any(name not in defaults for name in schema.get("required") or []):
        return None
    return defaults
