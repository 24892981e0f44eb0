"""The route table: one declaration per operation registers the handler,
shapes its reply and feeds the OpenAPI description.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..models.common import page_of, shaper

if TYPE_CHECKING:
    from .call import Call

API_ROOT = "/opensink/api"
PREFIX = API_ROOT + "/v1"
#: ``scope`` value for operations only the Jupyter user may call.
ADMIN = "admin"
#: ``scope`` value for operations any valid credential may call.
ANY = "any"
#: ``scope`` value for operations that need no credential at all.
PUBLIC = "public"

Endpoint = Callable[["Call"], Awaitable[Any]]
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Status:
    """An endpoint's result when its success status is not the route's usual one (201 for a created state)."""

    code: int
    body: Any


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # below /v1, e.g. "/api-keys/{id}"
    endpoint: Endpoint
    scope: str  # "<resource>:<read|write>", ADMIN or ANY
    summary: str
    body: type[BaseModel] | None = None
    status: int = 200
    also: tuple[int, ...] = ()  # other success statuses the endpoint answers with ``Status`` (same reply model)
    tag: str = ""
    base: str = PREFIX  # what ``path`` is below
    sink_secret: bool = False  # also accepts X-OpenSink-Sink-Secret for the sink in the path
    #: Without an Authorization header the endpoint authenticates the caller itself (a webhook's own secret).
    own_secret: bool = False
    stream: bool = False  # the endpoint writes the response itself (Server-Sent Events)
    stream_media: tuple[str, ...] = ("text/event-stream",)  # what a stream endpoint answers with
    query: tuple[str, ...] = ()  # the query parameters (filters) it reads
    paged: bool = False  # a listing: $limit, $trail, $order and {"items", "trail"}
    #: The reply's model (for a paged route: one item's); only its fields leave the server.
    response: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()  # error statuses beyond those the route's shape implies (e.g. 409)
    #: The reply holds a secret shown once (a new key, an approval link): an Idempotency-Key keeps only
    #: that the request succeeded, and a repeat is told so (409) instead of being handed the secret again.
    secret_reply: bool = False

    def __post_init__(self) -> None:
        if self.response is None and not self.stream:
            raise ValueError(f"{self.method} {self.path}: declare the reply's model (response=...)")

    @property
    def reply(self) -> type[BaseModel] | None:
        """The whole reply's model: the page of ``response`` for a listing."""
        if self.response is None:
            return None
        return page_of(self.response) if self.paged else self.response

    def render(self, result: Any) -> Any:
        """The endpoint's result as the reply declares it (undeclared fields never leave)."""
        return shaper(self.reply)(result) if self.reply is not None else result

    @property
    def pattern(self) -> str:
        return self.base + _PARAM.sub(r"(?P<\1>[^/]+)", self.path)


def group_by_path(routes: Iterable[Route]) -> dict[str, dict[str, Route]]:
    """{tornado pattern: {HTTP method: route}}, refusing duplicates."""
    grouped: dict[str, dict[str, Route]] = {}
    for route in routes:
        methods = grouped.setdefault(route.pattern, {})
        if route.method in methods:
            raise ValueError(f"{route.method} {route.path} is declared twice")
        methods[route.method] = route
    return grouped
