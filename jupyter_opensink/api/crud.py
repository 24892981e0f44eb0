"""Endpoints that only hand one object of the caller's workspace to a service method.

Each takes the method as a selector over ``Services`` (``lambda s: s.sinks.get``), so a reader and a
type checker see which service is called with what.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..models.common import Model
from ..services import Services
from ..store import Page
from .call import Call
from .paging import render_page
from .routing import Endpoint

Doc = dict[str, Any]


def one(method: Callable[[Services], Callable[[str, str], Awaitable[Doc]]]) -> Endpoint:
    """``method(workspace_id, id)``: a GET or DELETE of ``/things/{id}``."""

    async def endpoint(call: Call) -> Doc:
        return await method(call.services)(call.workspace_id, call.params["id"])

    return endpoint


def patch(method: Callable[[Services], Callable[[str, str, Doc], Awaitable[Doc]]],
          model: type[Model]) -> Endpoint:
    """``method(workspace_id, id, <only the fields sent>)``: a PATCH of ``/things/{id}``."""

    async def endpoint(call: Call) -> Doc:
        return await method(call.services)(call.workspace_id, call.params["id"],
                                           call.body(model).changes())

    return endpoint


def create(method: Callable[[Services], Callable[[str, Doc], Awaitable[Doc]]],
           model: type[Model]) -> Endpoint:
    """``method(workspace_id, <every field, defaults filled>)``: a POST of ``/things``."""

    async def endpoint(call: Call) -> Doc:
        return await method(call.services)(call.workspace_id, call.body(model).values())

    return endpoint


def listing(method: Callable[[Services], Callable[..., Awaitable[Page]]]) -> Endpoint:
    """``method(workspace_id, filters, limit=, after=, order=)``: a page of ``/things``.

    The filters are the route's ``query`` model (declared once: it also gives the 400 messages and
    the OpenAPI description), paging's parameters aside; without one, none.
    """

    async def endpoint(call: Call) -> Doc:
        p = call.paging()
        page = await method(call.services)(call.workspace_id, p.filters(), limit=p.limit, after=p.after,
                                           order=p.order)
        return render_page(page, p.order)

    return endpoint
