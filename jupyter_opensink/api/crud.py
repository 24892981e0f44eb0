"""Endpoints that only hand one object of the caller's workspace to a service method."""

from __future__ import annotations

from pydantic import BaseModel

from .handler import Call
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
