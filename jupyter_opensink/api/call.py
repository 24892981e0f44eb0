"""What an endpoint sees of a request: ``Call``, and ``SseResponse`` for the event stream.

Endpoints import this module, never the tornado handler: they read the request (path parameters,
body and query through their models, headers, the principal) and return what the reply holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import orjson
from pydantic import BaseModel

from ..runtime.streams import EventStreams
from ..services import Services
from ..services.access import Principal
from .paging import PageQuery
from .validation import Q, parse_body, parse_query

if TYPE_CHECKING:
    from .handler import OpenSinkHandler
    from .routing import Route

M = TypeVar("M", bound=BaseModel)


class SseResponse:
    """Writes Server-Sent Events to one client; a client that stops reading is cut off."""

    WRITE_TIMEOUT = 30.0

    def __init__(self, handler: OpenSinkHandler):
        self._handler = handler
        handler.set_header("Content-Type", "text/event-stream; charset=utf-8")
        handler.set_header("Cache-Control", "no-cache")
        handler.set_header("X-Accel-Buffering", "no")

    async def _write(self, text: bytes) -> None:
        self._handler.write(text)
        flushed = self._handler.flush()
        if flushed.done():  # the usual case: the socket took it all (raises if the client is gone)
            flushed.result()
        else:  # the client is not keeping up: it gets WRITE_TIMEOUT to take it
            await asyncio.wait_for(flushed, self.WRITE_TIMEOUT)

    async def event(self, event_id: str | None, type: str, data: Any) -> None:
        head = f"id: {event_id}\n" if event_id else ""
        await self._write(f"{head}event: {type}\ndata: ".encode() + orjson.dumps(data) + b"\n\n")

    async def comment(self, text: str) -> None:
        await self._write(f": {text}\n\n".encode())

    @staticmethod
    def frame(event_id: str | None, type: str, data: Any) -> bytes:
        """An event as one chunk of the chunked body, ready for the function ``direct`` returns: built
        once per event and sent as it is to every stream that shows it the same way."""
        head = f"id: {event_id}\n" if event_id else ""
        text = f"{head}event: {type}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"
        return b"%x\r\n%b\r\n" % (len(text), text)

    def direct(self) -> Callable[[bytes], bool] | None:
        """After the first write: a function putting a ``frame`` straight on the connection while nothing
        else is waiting to be sent (True), else refusing it (False: write it with ``event``); None when
        the connection cannot take frames that way."""
        return self._handler.chunk_sender()


class Call:
    """What an endpoint sees of a request."""

    def __init__(self, handler: OpenSinkHandler, route: Route, params: dict[str, str]):
        self._handler = handler
        self.route = route
        self.params = params
        self.principal: Principal = getattr(handler, "principal", None)  # type: ignore[assignment]
        self.services: Services = handler.context.services
        self.services_streams: EventStreams | None = handler.context.streams
        self._query: Any = None

    @property
    def workspace_id(self) -> str:
        return self.principal.workspace_id

    def body(self, model: type[M]) -> M:
        return parse_body(model, self._handler.body_bytes)

    def query(self, model: type[Q]) -> Q:
        """The query parameters through the model the route declares (its ``query=``, paging's parameters
        added on a listing), read once; 400 naming a bad one. ``model`` is that model or one it extends:
        the type the endpoint reads them as."""
        declared = self.route.query
        if declared is None or not issubclass(declared, model):
            raise TypeError(f"{self.route.method} {self.route.path} declares no query model {model.__name__}")
        if self._query is None:
            self._query = parse_query(declared, self.arg)
        return cast(Q, self._query)

    def arg(self, name: str) -> str | None:
        return self._handler.get_query_argument(name, None)

    def paging(self) -> PageQuery:
        """A listing's ``$limit``, ``$trail`` (as ``after``) and ``$order``."""
        return self.query(PageQuery)

    def header(self, name: str) -> str | None:
        return self._handler.request.headers.get(name)

    @property
    def headers(self) -> Any:
        """Every request header (case-insensitive lookups)."""
        return self._handler.request.headers

    @property
    def raw_body(self) -> bytes:
        """The body as sent (a signature covers these exact bytes)."""
        return self._handler.body_bytes

    @property
    def base_url(self) -> str:
        return self._handler.base_url

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` as this request reached the server (its Host was checked)."""
        return f"{self._handler.request.protocol}://{self._handler.request.host}"

    @property
    def public_url(self) -> str:
        """The server's address as people outside reach it (configured); empty: use ``origin``."""
        return self._handler.context.public_url

    @property
    def routes(self) -> list[Route]:
        """Every route the server serves."""
        return self._handler.context.routes

    def sse(self) -> SseResponse:
        return SseResponse(self._handler)

    @property
    def handler(self) -> OpenSinkHandler:
        """The request's handler, for a ``stream`` route whose endpoint writes the reply through another
        protocol's machinery (the MCP endpoint's ASGI bridge); other endpoints never need it."""
        return self._handler
