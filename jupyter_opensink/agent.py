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

Only HTTP is spoken: the client, and the endpoint.
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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tornado.httpserver
import tornado.web

from .client import Client
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
        return self.request["response"] if self.request else None


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
        endpoint = {"url": self.url, "method": "POST"}
        existing = next((a for a in self.client.agents.iter() if a["name"] == self.name), None)
        if existing is None:
            created = self.client.agents.create(name=self.name, description=self.description,
                                                execution_endpoint=endpoint)
        else:  # its secret was shown once, to whoever made it: take a new one, the endpoint is ours now
            self.client.agents.update(existing["id"], execution_endpoint=endpoint)
            created = self.client.agents.rotate_secret(existing["id"])
        self._own_secret = created.pop("execution_secret", None)
        self.agent = created
        return self.agent

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
            self.agent = self.client.agents.update(self.agent["id"], execution_endpoint=None)

    async def astop(self) -> None:
        self.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- one callback ------------------------------------------------------------
    async def _handle(self, body: dict[str, Any]) -> None:
        session_id, request_id = body.get("session_id"), body.get("request_id")
        if self._handler is None:
            return
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
            if session_id:
                self.client.agent_sessions.update(session_id, status="failed",
                                                  error_message=f"{type(exc).__name__}: {exc}")
            return
        if not session_id:
            return  # a fresh run: there is no session to complete
        changes = dict(result) if isinstance(result, dict) else {}
        current = self.client.agent_sessions.get(session_id)
        if current["status"] == "processing_input":  # not waiting on a new question
            changes.setdefault("status", "completed")
        if changes:
            self.client.agent_sessions.update(session_id, **changes)
