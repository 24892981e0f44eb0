"""Agents written as plain functions, served from a notebook (or a script) unchanged.

``NotebookAgent`` starts a small HTTP endpoint on 127.0.0.1 (a free port) on
the running event loop, registers it as the agent's ``execution_endpoint``,
and for each verified callback loads the session and the resolved request
and calls your handler. The handler's return value completes the session
(a dict may carry ``state`` and ``metadata``); an exception fails it. If the
handler asked a new question, the session keeps waiting for input. In a few
lines::

    bot = NotebookAgent("trader")

    @bot.handler
    def on_answer(call):
        if call.response["approved"]:
            ...
        return {"state": {"done": True}}

    bot.serve()   # in a notebook: returns at once; in a script: runs until stopped
    bot.ask("Buy AAPL?")   # asks in the agent's session and waits for the answer

A handler that raises fails the session with the exception's text, and in a notebook the traceback is
shown in the output of the cell that called ``serve()``. Only HTTP is spoken: the client, and the endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import inspect
import json
import logging
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tornado.httpserver
import tornado.web

from .client import Answer, BadRequest, Client
from .client.asking import in_a_kernel, question
from .ids import parse_digits

log = logging.getLogger(__name__)
MAX_SKEW_S = 300


@dataclass
class AgentCall:
    """What the handler gets for one callback."""

    agent: dict[str, Any]
    session: dict[str, Any] | None  # None for a fresh run (a background job calling the agent)
    request: dict[str, Any] | None
    body: dict[str, Any]
    client: Client

    @property
    def response(self) -> dict[str, Any] | None:
        """The answer's form: the JSON the person sent (None for a rejection, a reply or a fresh run)."""
        return self.request["response"] if self.request else None

    @property
    def answer(self) -> Answer | None:
        """The whole answer: ``decision``, ``response``, ``comment``, ``changes``, ``resolved_by_name``."""
        return Answer.of(self.request) if self.request else None

    def log(self, message: str) -> None:
        """Report progress: a ``message`` activity on the session's timeline."""
        if self.session is None:
            raise RuntimeError("a fresh run has no session to log to")
        self.client.activities.create(session_id=self.session["id"], type="message", message=message)


def verify(secret: str, headers: Any, body: bytes) -> bool:
    """The shared secret header and the Standard Webhooks signature, both, and a fresh timestamp."""
    if not hmac.compare_digest(headers.get("X-OpenSink-Secret", "").encode(), secret.encode()):
        return False
    msg_id, stamp, signatures = (headers.get("webhook-id", ""), headers.get("webhook-timestamp", ""),
                                 headers.get("webhook-signature", ""))
    at = parse_digits(stamp, 12)
    if at is None or abs(time.time() - at) > MAX_SKEW_S:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest())
    return any(hmac.compare_digest(expected, sig.split(",", 1)[1].encode())
               for sig in signatures.split() if sig.startswith("v1,"))


class _Endpoint(tornado.web.RequestHandler):
    def initialize(self, agent: NotebookAgent) -> None:
        self.agent = agent

    async def post(self) -> None:
        if not any(verify(secret, self.request.headers, self.request.body) for secret in self.agent.secrets):
            self.set_status(401)
            self.finish({"error": "bad secret or signature"})
            return
        body = json.loads(self.request.body or b"{}")
        self.set_status(202)
        self.finish({"accepted": True})  # reply at once; the work runs after
        task = asyncio.ensure_future(self.agent._handle(body))
        self.agent._tasks.add(task)
        task.add_done_callback(self.agent._tasks.discard)


class NotebookAgent:
    def __init__(self, name: str, handler: Callable[[AgentCall], Any] | None = None, *,
                 client: Client | None = None, secret: str | None = None, description: str | None = None):
        """``handler`` here is the explicit form; ``@agent.handler`` the decorator form."""
        self.name = name
        self.description = description
        self.client = client or Client()
        #: Given, the only secret callbacks are checked against. Otherwise the agent's own (from its create
        #: or a rotate at ``start``) and, for a workspace whose callbacks carry the workspace's secret, that.
        self.secret = secret
        self._own_secret: str | None = None
        self._handler: Callable[[AgentCall], Any] | None = handler
        self._server: tornado.httpserver.HTTPServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self.agent: dict[str, Any] | None = None
        self.url: str | None = None
        #: The session the agent asks in: the one of the answer being handled, else the last one it made.
        self.session_id: str | None = None
        #: Requests an ``ask`` waits on itself: their callbacks are not handed to the handler again.
        self._awaited: set[str] = set()
        self._status = _StatusOutput(name)

    @property
    def agent_id(self) -> str | None:
        """The agent's id once ``serve()`` (or ``start()``) has registered it."""
        return self.agent["id"] if self.agent else None

    @property
    def secrets(self) -> list[str]:
        """The secrets a callback may carry to be accepted."""
        if self.secret:
            return [self.secret]
        return [s for s in (self._own_secret, os.environ.get("OPENSINK_EXECUTION_SECRET")) if s]

    def handler(self, fn: Callable[[AgentCall], Any]) -> Callable[[AgentCall], Any]:
        """Decorator: the function called with an ``AgentCall`` for each answered request."""
        self._handler = fn
        return fn

    # -- serving -----------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        """Listen on a free loopback port on the running loop and register the endpoint."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.setblocking(False)
        self._server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/.*", _Endpoint,
                                                                                {"agent": self})]))
        self._server.add_sockets([sock])
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        registration: dict[str, Any] = {"execution_endpoint": {"url": self.url, "method": "POST"}}
        kernel_id = _own_kernel_id()
        if kernel_id:  # the server then knows the agent lives as long as this kernel, and holds its answers
            registration["kernel_id"] = kernel_id
        existing = next((a for a in self.client.agents.iter() if a["name"] == self.name), None)
        if existing is None:
            created = self._register(lambda **r: self.client.agents.create(name=self.name,
                                                                            description=self.description, **r),
                                     registration)
            self._own_secret = created.pop("execution_secret", None)
        else:
            # Its secret was shown once, to whoever made it: take a new one first, then serve, so held
            # answers released by serving are sent with the secret this process checks.
            self._own_secret = self.client.agents.rotate_secret(existing["id"]).get("execution_secret")
            created = self._register(lambda **r: self.client.agents.update(existing["id"], **r), registration)
        self.agent = created
        self._status.say(f"Agent {self.name!r} is serving (agent id {created['id']}) at {self.url}")
        return self.agent

    @staticmethod
    def _register(send: Callable[..., dict[str, Any]], registration: dict[str, Any]) -> dict[str, Any]:
        """Register the endpoint (with the kernel when there is one: a kernel the server does not run, one
        started by another Jupyter or by hand, is refused, and the agent registers as a plain URL)."""
        try:
            return send(**registration)
        except BadRequest as exc:
            if "kernel_id" not in registration or "kernel_id" not in str(exc):
                raise
            log.info("the server does not run this kernel: registering a plain endpoint (%s)", exc)
            return send(**{k: v for k, v in registration.items() if k != "kernel_id"})

    def ask(self, title: str, schema: dict[str, Any] | None = None, *, message: str = "",
            defaults: dict[str, Any] | None = None, context: Any = None, decisions: list[str] | None = None,
            timeout: float | None = None) -> Answer:
        """Ask a person in the agent's current session (a new one when there is none) and wait for the
        ``Answer``, as ``Client.ask`` does; the handler is not called for it."""
        if self.agent is None:
            raise RuntimeError(f"call serve() before ask(): the agent {self.name!r} is not registered yet")
        if self.session_id is None or self.client.agent_sessions.get(self.session_id)["status"] in ("completed",
                                                                                                  "failed"):
            self.session_id = self.client.agent_sessions.create(agent_id=self.agent["id"])["id"]
        request = self.client.input_requests.create(session_id=self.session_id, agent_id=self.agent["id"],
                                                    **question(title, schema, message, defaults, context, decisions))
        self._awaited.add(request["id"])
        return self.client.await_answer(request, timeout)

    def serve(self) -> None:
        """In a notebook (a loop is running): start and return. In a script: start and run until Ctrl-C."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self._serve_forever())
            return
        self.start()

    async def _serve_forever(self) -> None:
        self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.astop()

    def stop(self) -> None:
        """Stop listening and unregister the endpoint (the agent itself stays)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.agent is not None:
            self.agent = self.client.agents.update(self.agent["id"], execution_endpoint=None, kernel_id=None)

    async def astop(self) -> None:
        self.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- one callback ------------------------------------------------------------
    async def _handle(self, body: dict[str, Any]) -> None:
        session_id, request_id = body.get("session_id"), body.get("request_id")
        if request_id in self._awaited:  # the ask() waiting on it has the answer
            self._awaited.discard(request_id)
            return
        if self._handler is None:
            return
        if session_id:
            self.session_id = session_id
        call = AgentCall(agent=self.agent or {},
                         session=self.client.agent_sessions.get(session_id) if session_id else None,
                         request=self.client.input_requests.get(request_id) if request_id else None,
                         body=body, client=self.client)
        try:
            result = self._handler(call)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            log.exception("agent %s failed on session %s", self.name, session_id)
            self._status.failed(f"The handler of {self.name!r} raised on session {session_id}:",
                                traceback.format_exc())
            if session_id:
                self.client.agent_sessions.update(session_id, status="failed",
                                                  error_message=f"{type(exc).__name__}: {exc}"[:60_000])
            return
        if not session_id:
            return  # a fresh run: there is no session to complete
        changes = dict(result) if isinstance(result, dict) else {}
        current = self.client.agent_sessions.get(session_id)
        if current["status"] == "processing_input":  # not waiting on a new question
            changes.setdefault("status", "completed")
        if changes:
            self.client.agent_sessions.update(session_id, **changes)


def _own_kernel_id() -> str | None:
    """The id of the Jupyter kernel this code runs in (from its connection file), or None outside one."""
    if "ipykernel" not in sys.modules:
        return None
    try:
        from ipykernel import get_connection_file

        name = Path(get_connection_file()).stem
    except Exception:  # noqa: BLE001 (not a kernel application: an embedded shell, a test harness)
        return None
    return name.removeprefix("kernel-") if name.startswith("kernel-") else None


class _StatusOutput:
    """In a notebook, the output of the cell that called ``serve()``: what the agent is doing, and the
    traceback of a handler that raised (written there even while other cells run). Elsewhere: nothing
    (the log has it)."""

    MAX_SHOWN = 3

    def __init__(self, name: str):
        self.name = name
        self._handle: Any = None
        self._line = ""
        self._failures: list[str] = []

    def say(self, line: str) -> None:
        self._line = line
        self._show()

    def failed(self, headline: str, trace: str) -> None:
        self._failures = (self._failures + [f"{headline}\n{trace}"])[-self.MAX_SHOWN:]
        self._show()

    def _show(self) -> None:
        if not in_a_kernel():
            return
        from IPython.display import display

        text = "\n\n".join([self._line, *self._failures])
        bundle = {"text/plain": text}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)
