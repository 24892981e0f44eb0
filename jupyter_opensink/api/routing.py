"""The route table: one declaration per operation registers the handler,
shapes its reply and feeds the OpenAPI description.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..models.common import Query, page_of, shaper
from .auth import KEY_OR_USER, Auth
from .auth import NONE as NO_CREDENTIAL
from .paging import paged_query

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


# -- reply kinds: what an endpoint's result becomes ----------------------------------------------
@dataclass(frozen=True)
class Json:
    """A JSON reply rendered through ``model``: only its declared fields leave the server."""

    model: type[BaseModel]
    status: int = 200
    also: tuple[int, ...] = ()  # other success statuses the endpoint answers with ``Status`` (same model)

    @property
    def schema(self) -> type[BaseModel]:
        """The whole reply's model."""
        return self.model


@dataclass(frozen=True)
class Page(Json):
    """A listing: ``{"items": [model...], "trail"}``, one page at a time ($limit, $trail, $order)."""

    @property
    def schema(self) -> type[BaseModel]:
        return page_of(self.model)


@dataclass(frozen=True)
class Secret(Json):
    """A reply holding a secret shown once (a new key, an approval link): an Idempotency-Key keeps only
    that the request succeeded, and a repeat is told so (409) instead of being handed the secret again."""


@dataclass(frozen=True)
class Stream:
    """The endpoint writes the reply itself, as it happens (Server-Sent Events, or another protocol's)."""

    media: tuple[str, ...] = ("text/event-stream",)
    status: int = 200
    also: tuple[int, ...] = ()


Reply = Json | Stream


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # below /v1, e.g. "/api-keys/{id}"
    endpoint: Endpoint
    scope: str  # "<resource>:<read|write>", ADMIN, ANY or PUBLIC
    summary: str
    reply: Reply
    body: type[BaseModel] | None = None
    tag: str = ""
    base: str = PREFIX  # what ``path`` is below
    #: Which credentials it takes (``api/auth.py``); a PUBLIC route takes none.
    auth: Auth = KEY_OR_USER
    #: Its query parameters (filters), declared as a model: parsing, 400 messages and the description.
    #: A listing's model gets paging's parameters added (``$limit``, ``$trail``, ``$order``).
    query: type[Query] | None = None
    errors: tuple[int, ...] = ()  # error statuses beyond those the route's shape implies (e.g. 409)

    def __post_init__(self) -> None:
        if self.scope == PUBLIC:
            object.__setattr__(self, "auth", NO_CREDENTIAL)
        if self.paged:
            object.__setattr__(self, "query", paged_query(self.query))

    @property
    def status(self) -> int:
        """The usual success status."""
        return self.reply.status

    @property
    def paged(self) -> bool:
        return isinstance(self.reply, Page)

    @property
    def stream(self) -> bool:
        return isinstance(self.reply, Stream)

    @property
    def reply_model(self) -> type[BaseModel] | None:
        """The whole reply's model (the page of the items' model for a listing); None for a stream."""
        return self.reply.schema if isinstance(self.reply, Json) else None

    def render(self, result: Any, withheld: frozenset[str] = frozenset()) -> Any:
        """The endpoint's result as the reply declares it (undeclared fields never leave); the write
        secrets of the resources in ``withheld`` (those the caller may not write) are null."""
        model = self.reply_model
        return shaper(model, withheld)(result) if model is not None else result

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
