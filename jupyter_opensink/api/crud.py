"""Endpoints that only hand one object of the caller's workspace to a service method."""

from __future__ import annotations

from pydantic import BaseModel

from ..errors import Invalid

from .call import Call
from .paging import render_page
from .routing import Endpoint


def one(service: str, method: str = "get") -> Endpoint:
    """``services.<service>.<method>(workspace_id, id)``: a GET or DELETE of ``/things/{id}``."""

    async def endpoint(call: Call) -> dict:
        return await getattr(getattr(call.services, service), method)(call.workspace_id, call.params["id"])

    endpoint.__name__ = f"{method}_{service}"
    return endpoint


def patch(service: str, model: type[BaseModel]) -> Endpoint:
    """``services.<service>.update(workspace_id, id, <only the fields sent>)``."""

    async def endpoint(call: Call) -> dict:
        return await getattr(call.services, service).update(call.workspace_id, call.params["id"],
                                                            call.body(model).changes())

    endpoint.__name__ = f"update_{service}"
    return endpoint


def create(service: str, model: type[BaseModel]) -> Endpoint:
    """``services.<service>.create(workspace_id, <every field, defaults filled>)``."""

    async def endpoint(call: Call) -> dict:
        return await getattr(call.services, service).create(call.workspace_id, call.body(model).values())

    endpoint.__name__ = f"create_{service}"
    return endpoint


def listing(service: str, method: str = "list", choices: dict[str, tuple[str, ...]] | None = None) -> Endpoint:
    """``services.<service>.<method>(workspace_id, filters, ...paging)``.

    The filters are the route's declared ``query`` parameters (declared once:
    the OpenAPI description reads the same tuple); ``choices`` names the ones
    limited to a set of values (400 otherwise).
    """

    async def endpoint(call: Call) -> dict:
        filters = {name: call.arg(name) for name in call.route.query}
        for name, allowed in (choices or {}).items():
            if filters.get(name) is not None and filters[name] not in allowed:
                raise Invalid(f"{name} must be one of {', '.join(allowed)}")
        p = call.paging()
        page = await getattr(getattr(call.services, service), method)(
            call.workspace_id, filters, limit=p.limit, after=p.after, order=p.order)
        return render_page(page, p.order)

    endpoint.__name__ = f"{method}_{service}"
    return endpoint
