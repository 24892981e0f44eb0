"""{base_url}opensink/mcp: the workspace as a Model Context Protocol server (Streamable HTTP).

The SDK's low-level ``Server`` dispatches the protocol and its session
manager owns the transport (sessions, JSON or Server-Sent-Event replies, both
protocol eras); our handler in front of it authenticates the caller exactly
as for the HTTP API, and every tool or resource acts as that caller.

Handshake sessions are also booked here, per credential: at most
``sessions_per_credential`` are kept (opening one more ends the credential's
least recently used idle session, or is refused with 429 when every one is
busy), and a key's sessions and requests end when it is revoked or expires
(``runtime.credentials``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import mcp_types as types
import orjson
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from .._version import __version__
from ..errors import NotFound, OpenSinkError, Throttled, Unauthorized, Unavailable
from ..runtime.credentials import CredentialWatch
from ..services import Services
from ..services.access import Principal
from ..api import errors
from ..api.call import Call
from . import resources as mcp_resources
from .asgi import serve_asgi
from .routes import STOPPING
from .tools import TOOLS, TOOLS_BY_NAME, ToolCall

log = logging.getLogger("jupyter_opensink.mcp")
PRINCIPAL = "opensink.principal"  # the ASGI scope key our handler hands the caller over in
SESSION_HEADER, VERSION_HEADER = "Mcp-Session-Id", "Mcp-Protocol-Version"
RESOURCE_NOT_FOUND = -32002  # the MCP specification's code for an unknown resource
INSTRUCTIONS = (
    "An OpenSink workspace inside a Jupyter server. Use ask_human when a person must decide or answer: they "
    "reply in a notebook or the JupyterLab inbox, and the answer comes back from the call (or later, through "
    "get_input_request). Write results into sinks with write_item; keep memory with get_state/set_state; "
    "report progress with log_activity and end a session with update_session."
)


def _principal(ctx: Any) -> Principal:
    request = getattr(ctx, "request", None)
    principal = request.scope.get(PRINCIPAL) if request is not None else None
    if principal is None:  # only our handler reaches the transport, and it always sets one
        raise MCPError(types.INVALID_REQUEST, "no credential")
    return principal


def _client_name(ctx: Any) -> str | None:
    params = getattr(ctx.session, "client_params", None)
    info = getattr(params, "client_info", None)
    return getattr(info, "name", None) or None


def _progress(ctx: Any) -> Any:
    """Sends progress notifications for this request, when the caller gave a progress token."""
    meta = ctx.meta or {}
    token = meta.get("progress_token", meta.get("progressToken"))
    if token is None:
        return None

    async def report(progress: float, total: float, message: str) -> None:
        await ctx.session.send_progress_notification(token, progress, total, message,
                                                     related_request_id=ctx.request_id)

    return report


def _input_schema(name: str) -> dict[str, Any] | None:
    """For the 2026-07-28 transport's header checks: without it the SDK lists every tool on each call."""
    tool = TOOLS_BY_NAME.get(name)
    return tool.listing.input_schema if tool is not None else None


def _identity(principal: Principal) -> AuthenticatedUser:
    """Who owns an MCP session: the SDK serves a session only to the credential that opened it."""
    return AuthenticatedUser(AccessToken(token="-", client_id=principal.label, scopes=list(principal.scopes)))


@dataclass(eq=False)
class _Session:
    """A handshake session as we book it: whose it is, when it was last used, requests on it now."""

    id: str
    owner: Principal
    identity: AuthenticatedUser
    last_used: float
    in_flight: int = 0
    release: Any = None  # lets go of its credential hold
    idle_timer: asyncio.TimerHandle | None = None  # forgets it once the SDK has ended it for idleness


async def _end_sse_watcher() -> None:
    """sse-starlette (the SDK's event-stream replies) starts one task per loop that polls for a uvicorn
    shutdown and never ends under tornado; left pending, the loop's close warns about it."""
    watchers = [task for task in asyncio.all_tasks()
                if getattr(task.get_coro(), "__qualname__", "") == "_shutdown_watcher"]
    for task in watchers:
        task.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)


class McpEndpoint:
    """The MCP server and its session manager, run on the Jupyter server's loop."""

    def __init__(self, services: Services, *, max_wait: float, max_body_size: int,
                 session_idle_timeout: float = 30 * 60, progress_interval: float = 10.0,
                 sessions_per_credential: int = 20, credentials: CredentialWatch | None = None):
        self.services = services
        self.credentials = credentials or CredentialWatch(services.events)
        self.sessions_per_credential = sessions_per_credential
        self.session_idle_timeout = session_idle_timeout
        self._sessions: dict[str, _Session] = {}  # by session id
        self._owned_by: dict[str, dict[str, _Session]] = {}  # by owner label, then session id
        self._opening: dict[str, int] = {}  # by owner label: requests that may open a session, being answered
        self._ending: set[asyncio.Task] = set()
        self.max_wait = max_wait
        self.progress_interval = progress_interval
        self.server: Server[Any] = Server(
            "jupyter_opensink", version=__version__, title="OpenSink in Jupyter", instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools, on_call_tool=self._call_tool, on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_templates, on_read_resource=self._read_resource,
            get_tool_input_schema=_input_schema)
        self.manager = StreamableHTTPSessionManager(app=self.server, max_request_body_size=max_body_size,
                                                    session_idle_timeout=session_idle_timeout)
        self._task: asyncio.Task | None = None
        self._ready: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self.stopping = asyncio.Event()
        self._answering = 0  # POSTs being answered (tool calls among them)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Enter the session manager's lifetime (once); later calls return at once."""
        if self._ready is not None and self._ready.is_set():
            return  # every MCP request comes by here: nothing to wait for once running
        if self._task is None:
            self._ready, self._stop = asyncio.Event(), asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="opensink-mcp")
        waiter = asyncio.create_task(self._ready.wait())
        await asyncio.wait([waiter, self._task], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._task.done():
            self._task.result()  # raises why it could not start

    async def _run(self) -> None:
        async with self.manager.run():
            self._ready.set()
            await self._stop.wait()

    async def stop(self, timeout: float = 5.0) -> None:
        """Tool calls waiting for a human answer with a pending handle (to poll again after the restart),
        then every MCP session ends."""
        self.stopping.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._answering and loop.time() < deadline:
            await asyncio.sleep(0.02)
        if self._task is None:
            return
        self._stop.set()
        with contextlib.suppress(Exception):
            await self._task
        for session in list(self._sessions.values()):
            self._forget(session)
        await _end_sse_watcher()

    # -- HTTP ----------------------------------------------------------------------------------
    async def serve(self, call: Call) -> None:
        counted = call.route.method == "POST"
        self._answering += counted  # before any wait, so a stop beginning now waits for this one
        try:
            if not self.stopping.is_set():
                await self.start()
            if self.stopping.is_set():
                raise Unavailable(STOPPING)
            await self._answer(call)
        finally:
            self._answering -= counted

    async def _answer(self, call: Call) -> None:
        """Lets the SDK answer, booking the session the request opens or uses; the request is cancelled
        if its key is revoked or expires meanwhile (a waiting tool call included)."""
        principal = call.principal
        session_id = call.header(SESSION_HEADER)
        session = self._sessions.get(session_id) if session_id else None
        if session is not None and session.owner.label != principal.label:
            session = None  # the SDK answers 404: not ours to count
        opening = (session_id is None and call.route.method == "POST"
                   and call.header(VERSION_HEADER) in (None, *HANDSHAKE_PROTOCOL_VERSIONS))
        if opening:  # counted before any wait, so requests opening sessions at once see each other
            self._opening[principal.label] = self._opening.get(principal.label, 0) + 1
        if session is not None:
            session.in_flight += 1
        try:
            if opening:
                await self._make_room(principal)
            await self._forward(call, principal, opening)
        finally:
            if opening:
                self._opening[principal.label] -= 1
                if not self._opening[principal.label]:
                    del self._opening[principal.label]
            if session is not None:
                session.in_flight -= 1
                session.last_used = time.monotonic()
                if not session.in_flight and self._sessions.get(session.id) is session:
                    self._watch_idle(session)

    async def _forward(self, call: Call, principal: Principal, opening: bool) -> None:
        identity = _identity(principal)
        answered: dict[str, Any] = {}

        async def app(scope: Any, receive: Any, send: Any) -> None:
            async def watch(message: Any) -> None:
                if message["type"] == "http.response.start" and not answered:
                    answered["status"] = message["status"]
                    made = next((value.decode("latin-1") for name, value in message.get("headers", ())
                                 if name.lower() == SESSION_HEADER.lower().encode()), None)
                    if opening and made and message["status"] < 400 and made not in self._sessions:
                        self._book(made, principal, identity)
                await send(message)

            await self.manager.handle_request(scope, receive, watch)

        request = asyncio.ensure_future(serve_asgi(call.handler, app, call.raw_body,
                                                   {PRINCIPAL: principal, "user": identity}))
        ended: list[str] = []

        def end(reason: str) -> None:
            ended.append(reason)
            request.cancel()

        release = self.credentials.hold(principal.key_id, principal.expires_at, end)
        try:
            await request
        except asyncio.CancelledError:
            if not ended:
                raise
            if not answered:
                raise Unauthorized(ended[0]) from None
            # else: the reply had begun (an event stream); it ends here
        finally:
            release()
        session = self._sessions.get(call.header(SESSION_HEADER) or "")
        status = answered.get("status")
        gone = status == 404 or (call.route.method == "DELETE" and status == 200)
        if session is not None and session.owner.label == principal.label and gone:
            self._forget(session)  # the client ended it, or the SDK no longer knows it

    # -- sessions per credential ---------------------------------------------------------------
    def _book(self, session_id: str, owner: Principal, identity: AuthenticatedUser) -> None:
        session = _Session(session_id, owner, identity, time.monotonic())
        self._sessions[session_id] = session
        self._owned_by.setdefault(owner.label, {})[session_id] = session
        session.release = self.credentials.hold(owner.key_id, owner.expires_at,
                                                lambda reason: self._end_soon(session))
        self._watch_idle(session)

    def _watch_idle(self, session: _Session) -> None:
        """The SDK ends a session idle for ``session_idle_timeout`` without telling: forget it then too."""
        if session.idle_timer is not None:
            session.idle_timer.cancel()
        session.idle_timer = asyncio.get_running_loop().call_later(self.session_idle_timeout + 1, self._owned,
                                                                   session.owner.label)

    def _forget(self, session: _Session) -> None:
        if self._sessions.get(session.id) is session:
            del self._sessions[session.id]
            owned = self._owned_by[session.owner.label]
            del owned[session.id]
            if not owned:
                del self._owned_by[session.owner.label]
        if session.release is not None:
            session.release()
            session.release = None
        if session.idle_timer is not None:
            session.idle_timer.cancel()
            session.idle_timer = None

    def _owned(self, label: str) -> list[_Session]:
        """The owner's live sessions, least recently used first. One idle past the idle timeout has been
        ended by the SDK (the same rule: no request in flight for that long): it is forgotten here."""
        now = time.monotonic()
        owned = []
        for session in list(self._owned_by.get(label, {}).values()):
            if session.in_flight == 0 and now - session.last_used > self.session_idle_timeout:
                self._forget(session)
            else:
                owned.append(session)
        return sorted(owned, key=lambda session: session.last_used)

    async def _make_room(self, principal: Principal) -> None:
        """Before a request that may open a session: at the bound, the owner's least recently used idle
        session ends; when every one has a request in flight, the new one is refused (429)."""
        owned = self._owned(principal.label)
        if len(owned) + self._opening.get(principal.label, 0) <= self.sessions_per_credential:
            return  # (the opening requests include this one)
        idle = [session for session in owned if session.in_flight == 0]
        if not idle:
            raise Throttled(1, f"this credential already has {self.sessions_per_credential} MCP sessions, each "
                               "answering a request (OpenSinkApp.mcp_sessions_per_credential): end one (DELETE "
                               "with its Mcp-Session-Id) or try again when one is idle")
        await self._end(idle[0])

    def _end_soon(self, session: _Session) -> None:
        """Its key was revoked or expired: the session ends (from a bus subscriber, so in a task)."""
        task = asyncio.ensure_future(self._end(session))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    async def _end(self, session: _Session) -> None:
        """Ends a session as its client would, with a DELETE carrying its id and owner: the SDK's own way
        of terminating it (its requests and event streams end, its id answers 404)."""
        self._forget(session)
        if self._ready is None or not self._ready.is_set() or self._stop.is_set():
            return  # the manager is not running: its sessions are gone already
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "DELETE",
                 "scheme": "http", "path": "/opensink/mcp", "raw_path": b"/opensink/mcp", "query_string": b"",
                 "root_path": "", "headers": [(SESSION_HEADER.lower().encode(), session.id.encode("latin-1"))],
                 "client": None, "server": None, "state": {}, PRINCIPAL: session.owner, "user": session.identity}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            pass

        try:
            await self.manager.handle_request(scope, receive, send)
        except Exception:
            log.exception("could not end MCP session %s", session.id[:8])

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    # -- protocol handlers ---------------------------------------------------------------------
    async def _list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        _principal(ctx)
        return types.ListToolsResult(tools=[tool.listing for tool in TOOLS])

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = TOOLS_BY_NAME.get(params.name)
        if tool is None:
            raise MCPError(types.INVALID_PARAMS, f"no tool {params.name!r}: use one of "
                                                 f"{', '.join(TOOLS_BY_NAME)}")
        call = ToolCall(principal=_principal(ctx), services=self.services, client_name=_client_name(ctx),
                        max_wait=self.max_wait, progress=_progress(ctx), progress_interval=self.progress_interval,
                        stopping=self.stopping)
        return await tool.call(call, params.arguments)

    async def _list_resources(self, ctx: Any, params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=await mcp_resources.list_resources(self.services,
                                                                                     _principal(ctx)))

    async def _list_templates(self, ctx: Any, params: Any) -> types.ListResourceTemplatesResult:
        _principal(ctx)
        return types.ListResourceTemplatesResult(resource_templates=mcp_resources.templates())

    async def _read_resource(self, ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        try:
            value = await mcp_resources.read_resource(self.services, _principal(ctx), params.uri)
        except OpenSinkError as exc:  # the HTTP API's message, as a protocol error
            status = errors.status_for(exc, 500)
            code = RESOURCE_NOT_FOUND if isinstance(exc, NotFound) else types.INVALID_PARAMS
            raise MCPError(code, errors.message_for(exc, status), {"status": status}) from None
        return types.ReadResourceResult(contents=[types.TextResourceContents(
            uri=params.uri, mime_type=mcp_resources.JSON, text=orjson.dumps(value).decode())])
