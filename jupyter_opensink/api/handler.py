"""The single request handler class behind every route.

It reads the JSON body within the size limit, turns the route's credential into
a principal (api/auth.py), authorizes it (the route's scope), calls the route's
endpoint and renders the result or the error as JSON. Query parameters, paging
included, are parsed by ``Call.query`` through the route's declared model.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

import orjson
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.iostream import IOStream, StreamClosedError

from ..errors import NotFound, Unauthorized
from ..runtime.streams import EventStreams
from ..services import Services
from ..services.access import EVERY_RESOURCE, Principal, person_name
from ..services.idempotency import fingerprint
from . import auth, errors
from .access_log import LeanAccessLog
from .body import StreamedBody
from .call import Call
from .routing import ADMIN, ANY, PUBLIC, Route, Secret, Status

log = logging.getLogger("jupyter_opensink.api")
IDEMPOTENCY_HEADER = "Idempotency-Key"
SECRET_REPLAYED = ("Idempotency-Key: the first request with this key succeeded; its reply held a secret that is "
                   "shown only once, so it is not repeated (list what it created, or create a new one)")


@dataclass
class ApiContext:
    """Long-lived objects the handlers need, built once by the extension app."""

    services: Services
    max_body_size: int
    #: Every route served (the JSON API's and those other surfaces add); the OpenAPI description shows them.
    routes: list[Route]
    streams: EventStreams | None = None
    #: Seconds a client gets to send its whole request body (a trickling body holds a connection).
    body_timeout: float = 60.0
    #: Requests being answered (event streams excluded), so a stop can let them finish.
    in_flight: set[OpenSinkHandler] = field(default_factory=set)
    #: The server's address as people outside reach it (approval links' URLs); empty: the request's own.
    public_url: str = ""

    async def drain(self, timeout: float) -> int:
        """Waits up to ``timeout`` seconds for requests in flight; returns how many are left."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return len(self.in_flight)


def render_json(value: Any) -> bytes:
    """orjson, or the standard library for what orjson refuses (an integer over 64 bits that a
    caller sent and a reply echoes back, as /sink-items/many does for invalid items)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode()


@web.stream_request_body
class OpenSinkHandler(LeanAccessLog, StreamedBody, APIHandler):
    """See the module docstring. ``routes`` maps HTTP methods to this path's routes."""

    principal: Principal

    def initialize(self, context: ApiContext, routes: dict[str, Route]) -> None:  # type: ignore[override]
        self.context = context
        self.routes = routes
        self.body_limit = context.max_body_size
        self.body_timeout = context.body_timeout
        self.start_body()
        self._close_callbacks: list[Any] = []
        #: A credential that ``needs_body``: ``prepare`` leaves it to ``_dispatch``.
        self._checked_with_body: auth.Credential | None = None

    def on_connection_close(self) -> None:
        # The request will never finish (the client left, or tornado gave up on its body, e.g. a
        # Content-Length that is no number): a stop has nothing to wait for here.
        self.context.in_flight.discard(self)
        for callback in self._close_callbacks:
            callback()
        super().on_connection_close()

    def when_closed(self, callback: Any) -> None:
        """Call ``callback()`` if the client goes away before the reply is complete."""
        self._close_callbacks.append(callback)

    def chunk_sender(self) -> Callable[[bytes], bool] | None:
        """A function that puts one prepared chunk of this streamed reply straight on the socket, without
        a write future or a flush: it returns False (and writes nothing) when the reply cannot take it that
        way right now (earlier output still waiting for the client, a closed connection), and the caller
        writes through ``write``/``flush`` instead. None when the reply is not a plain chunked HTTP/1.1
        body on a plain socket (HTTP/1.0, TLS, compressed output): then every write goes the usual way.

        Call it once the headers are flushed. A chunk is ``<size in hex>\r\n<data>\r\n``."""
        connection = self.request.connection
        stream = getattr(connection, "stream", None)
        if (type(stream) is not IOStream or getattr(connection, "_chunking_output", None) is not True
                or not self._headers_written or self._write_buffer
                or any(getattr(t, "_gzipping", False) for t in self._transforms)):
            return None
        sock = stream.socket

        def send(chunk: bytes) -> bool:
            if stream.writing() or stream.closed():
                return False
            try:
                sent = sock.send(chunk)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return False  # the client is gone: the usual write finds out and ends the stream
            if sent < len(chunk):  # the socket's buffer is full: tornado sends the rest when it drains
                stream.write(chunk[sent:])
            return True

        return send

    def on_finish(self) -> None:
        self.body_arrived()
        self.context.in_flight.discard(self)
        self._log_request()
        super().on_finish()

    def _log_request(self) -> None:
        started = getattr(self, "_started", None)
        if started is None or self.request.method == "OPTIONS":
            return
        principal: Principal | None = getattr(self, "principal", None)
        length = self._headers.get("Content-Length")
        self.context.services.request_log.record(
            method=self.request.method or "", path=self.request.path, status=self.get_status(),
            duration_ms=(time.perf_counter() - started) * 1000,
            key_id=principal.key_id if principal is not None and not principal.is_user else None,
            user=principal.user_name if principal is not None and principal.is_user else None,
            workspace_id=principal.workspace_id if principal is not None else None,
            request_bytes=self._received, response_bytes=int(length) if length else None)

    def body_gave_up(self) -> None:
        self.context.in_flight.discard(self)

    # -- authentication -------------------------------------------------------
    async def prepare(self) -> None:  # type: ignore[override]
        self._started = time.perf_counter()
        route = self.routes.get(self.request.method or "")
        if route is None or not route.stream:
            self.context.in_flight.add(self)
        if self.request.method in ("POST", "PUT", "PATCH"):
            self.expect_body()
        auth.refuse_oversized(self.request.headers, self.context.max_body_size)
        if self.request.method == "OPTIONS":  # CORS preflight: Jupyter's rules, no credential
            await super().prepare()
            return
        strategy = route.auth if route is not None else auth.KEY_OR_USER  # a 405 still needs a credential
        credential = strategy.credential(self.request.headers, self.path_kwargs)
        if credential.kind is auth.Kind.NONE or credential.needs_body:
            self.principal = None  # public, or known once the body is in (``_dispatch``)
            self._checked_with_body = credential if credential.needs_body else None
            auth.require_known_host(self)
        elif credential.kind is auth.Kind.USER:
            await self._prepare_user()
        else:
            await self._prepare_key(credential)

    async def _prepare_key(self, credential: auth.Credential) -> None:
        # Jupyter's prepare() would reject the key as a bad token, so we do its
        # protective checks ourselves: Host header (DNS rebinding), CORS, Origin.
        auth.require_known_host(self)
        self.current_user = self._jupyter_current_user = None
        self.set_cors_headers()
        if not self.check_origin():
            raise web.HTTPError(404)
        asked = self.request.headers.get(auth.WORKSPACE_HEADER)
        self.principal = await auth.principal_for(self.context.services, credential, asked_workspace=asked)

    async def _prepare_user(self) -> None:
        await super().prepare()  # Jupyter's own token/cookie auth, Host and XSRF checks
        user = self.current_user
        if user is None:
            raise Unauthorized("no credential: send Authorization: Bearer <API key> (or the Jupyter token)")
        username = getattr(user, "username", None)
        name = getattr(user, "display_name", None) or getattr(user, "name", None)
        self.principal = await auth.user_principal(self.context.services, username,
                                                   self.request.headers.get(auth.WORKSPACE_HEADER),
                                                   display_name=person_name(username, name))

    def check_xsrf_cookie(self) -> None:
        # Without any credential the answer is 401, not the XSRF check's 403.
        if getattr(self, "_jupyter_current_user", "unset") is None:
            raise Unauthorized("no credential: send Authorization: Bearer <API key> (or the Jupyter token)")
        super().check_xsrf_cookie()

    # -- dispatch -------------------------------------------------------------
    async def _dispatch(self, params: dict[str, str]) -> None:
        self.body_arrived()
        route = self.routes.get(self.request.method or "")
        if route is None:
            allowed = ", ".join(sorted(self.routes))
            raise web.HTTPError(405, f"{self.request.method} is not allowed here; use {allowed}")
        if self.body_too_large:
            raise web.HTTPError(413, f"the request body is larger than {self.context.max_body_size} bytes")
        if self._checked_with_body is not None:
            self.principal = await auth.principal_for(self.context.services, self._checked_with_body,
                                                      body=self.body_bytes)
        if self.principal is None:
            pass  # a public route
        elif route.scope == ADMIN:
            self.principal.require_user(f"call {route.method} /v1{route.path}")
        elif route.scope not in (ANY, PUBLIC):
            self.principal.require(route.scope)
        if route.stream:
            try:
                await route.endpoint(Call(self, route, params))
            except (StreamClosedError, asyncio.TimeoutError):
                pass  # the client went away or stopped reading
            if not self._finished:
                self.finish()
            return
        # A webhook's sender repeats by the webhook's own rules (its dedup key, a signed call's webhook-id).
        idempotency_key = (self.request.headers.get(IDEMPOTENCY_HEADER)
                           if self.request.method == "POST" and self.principal is not None
                           and self.principal.webhook_id is None else None)
        if idempotency_key is not None:
            await self._run_once(route, params, idempotency_key)
            return
        status, body = self._reply(route, await route.endpoint(Call(self, route, params)))
        self.set_status(status)
        self._set_server_timing()
        self.finish(body)

    def _reply(self, route: Route, result: Any) -> tuple[int, bytes]:
        """Status and body; secrets granting writes the caller may not make are left out (null)."""
        principal: Principal | None = getattr(self, "principal", None)
        withheld = principal.withheld if principal is not None else EVERY_RESOURCE
        if isinstance(result, Status):
            return result.code, render_json(route.render(result.body, withheld))
        return route.status, render_json(route.render(result, withheld))

    async def _run_once(self, route: Route, params: dict[str, str], key: str) -> None:
        """A POST with Idempotency-Key: the first answer is kept and replayed; the effect happens once."""
        keys = self.context.services.idempotency
        request = fingerprint(self.request.method or "", self.request.path, self.body_bytes)
        claim_id, replay = await keys.claim(self.principal.workspace_id, key, request)
        if replay is not None:
            self.set_status(replay.status)
            self.set_header("Idempotent-Replayed", "true")
            self._set_server_timing()
            self.finish(replay.body)
            return
        try:
            result = await route.endpoint(Call(self, route, params))
        except Exception as exc:
            status = errors.status_for(exc, 500)
            if status >= 500:
                await keys.release(claim_id)
            else:
                await keys.answer(claim_id, status, orjson.dumps(errors.body_for(exc, status)))
            raise
        status, body = self._reply(route, result)
        if isinstance(route.reply, Secret):  # never stored: a repeat learns it succeeded, not the secret
            await keys.answer(claim_id, 409, orjson.dumps({"error": SECRET_REPLAYED}))
        else:
            await keys.answer(claim_id, status, body)
        self.set_status(status)
        self._set_server_timing()
        self.finish(body)

    def _set_server_timing(self) -> None:
        """How long the server spent on this request, for clients and benchmarks."""
        started = getattr(self, "_started", None)
        if started is not None:
            self.set_header("Server-Timing", f"app;dur={(time.perf_counter() - started) * 1000:.2f}")

    @allow_unauthenticated
    async def get(self, **params: str) -> None:
        await self._dispatch(params)

    @allow_unauthenticated
    async def post(self, **params: str) -> None:
        await self._dispatch(params)

    @allow_unauthenticated
    async def put(self, **params: str) -> None:
        await self._dispatch(params)

    @allow_unauthenticated
    async def patch(self, **params: str) -> None:
        await self._dispatch(params)

    @allow_unauthenticated
    async def delete(self, **params: str) -> None:
        await self._dispatch(params)

    # -- errors ---------------------------------------------------------------
    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        super().send_error(errors.status_for(exc, status_code), **kwargs)

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[override]
        if errors.is_expected(value):
            return
        if errors.status_for(value, 500) >= 500 and not isinstance(value, web.HTTPError):
            log.error("%s %s failed", self.request.method, self.request.path, exc_info=(typ, value, tb))
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="opensink"')
        elif status_code == 405 and self.routes:
            self.set_header("Allow", ", ".join(sorted(self.routes)))
        self._set_server_timing()
        self.finish(orjson.dumps(errors.body_for(exc, status_code)))


class NotFoundHandler(OpenSinkHandler):
    """Anything under the API prefix that no route matches."""

    async def _dispatch(self, params: dict[str, str]) -> None:
        raise NotFound(f"no such route: {self.request.method} {self.request.path}")
