"""Serve one tornado request with an ASGI application.

The MCP SDK's Streamable HTTP transport is an ASGI application. Running it
behind the JSON API's handler keeps one place for authentication, the Host check,
CORS, body limits and the request log, while the SDK keeps the protocol
(sessions, JSON or Server-Sent-Event replies, protocol-version checks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from tornado.httputil import split_host_and_port
from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
AsgiApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class AsgiExchange:
    """The ``receive``/``send`` pair of one request, written through a tornado handler."""

    def __init__(self, handler: RequestHandler, body: bytes):
        self._handler = handler
        self._body: bytes | None = body
        self._gone = asyncio.Event()  # the client went away, or the reply is complete
        self.started = False
        self.client_left = False

    def scope(self, extra: dict[str, Any]) -> Scope:
        request = self._handler.request
        host, port = split_host_and_port(request.host or "")
        headers = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                   for name, value in request.headers.get_all()]
        return {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.version.removeprefix("HTTP/") or "1.1",
            "method": request.method, "scheme": request.protocol, "path": unquote(request.path),
            "raw_path": request.path.encode("latin-1"), "query_string": request.query.encode("latin-1"),
            "root_path": "", "headers": headers, "client": (request.remote_ip, 0),
            "server": (host, port), "state": {}, **extra,
        }

    def connection_closed(self) -> None:
        """The client went away before the reply was complete."""
        self.client_left = True
        self._gone.set()

    def done(self) -> None:
        self._gone.set()

    async def receive(self) -> Message:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        handler = self._handler
        if message["type"] == "http.response.start":
            self.started = True
            handler.set_status(message["status"])
            handler.clear_header("Content-Type")
            headers = message.get("headers", ())
            for name, value in headers:
                handler.add_header(name.decode("latin-1"), value.decode("latin-1"))
            if not any(name.lower() == b"content-length" for name, _ in headers):
                await self._flush()  # a stream: the client learns it is open before its first event
            return
        if message["type"] != "http.response.body" or self._gone.is_set():
            return
        chunk = message.get("body", b"")
        if chunk:
            handler.write(chunk)
        if message.get("more_body", False):
            await self._flush()
        else:
            try:
                handler.finish()
            except StreamClosedError:
                pass
            self.done()

    async def _flush(self) -> None:
        try:
            await self._handler.flush()
        except StreamClosedError:
            self._gone.set()


async def serve_asgi(handler: Any, app: AsgiApp, body: bytes, extra_scope: dict[str, Any]) -> None:
    """Run ``app`` for the request of ``handler`` (an ``OpenSinkHandler``); returns once the app is done."""
    exchange = AsgiExchange(handler, body)
    handler.when_closed(exchange.connection_closed)
    try:
        await app(exchange.scope(extra_scope), exchange.receive, exchange.send)
    finally:
        exchange.done()
    if not exchange.started and not exchange.client_left:  # a client that left needs no answer
        raise RuntimeError("the ASGI application sent no response")
