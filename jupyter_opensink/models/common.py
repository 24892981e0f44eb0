"""Field types and the base model shared by every resource."""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError,
                      WithJsonSchema, create_model)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from ..ids import parse_time, to_iso


class Model(BaseModel):
    """Unknown fields are errors and no type is coerced ("1" is not 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    def changes(self) -> dict[str, Any]:
        """Only the fields the caller sent (PATCH semantics), times rendered as API strings."""
        return {k: _render(v) for k, v in self.model_dump(exclude_unset=True, by_alias=True).items()}

    def values(self) -> dict[str, Any]:
        """Every field, defaults included, times rendered as API strings."""
        return {k: _render(v) for k, v in self.model_dump(by_alias=True).items()}


def patch_of(model: type[Model], name: str, *, drop: tuple[str, ...] = (), **extra: Any) -> type[Model]:
    """The PATCH model of a create model: the same fields and rules, each one optional.

    A field left out is not changed; a field sent must still be valid, so
    ``null`` is accepted only where the create model accepts it (defaults are
    never validated).
    """
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        if field_name in drop:
            continue
        optional = FieldInfo.merge_field_infos(info, default=None)
        optional.default_factory = None
        fields[field_name] = (info.annotation, optional)
    fields.update(extra)
    return create_model(name, __base__=Model, __doc__=f"PATCH body of {model.__name__}.", **fields)


def _render(value: Any) -> Any:
    return to_iso(value) if isinstance(value, datetime) else value


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http or https URL")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a timezone (for example a trailing Z)")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Text = Annotated[str, StringConstraints(max_length=65_536)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_web_url)]
Time = Annotated[datetime, AfterValidator(_aware)]


# -- query parameters ---------------------------------------------------------
class Query(BaseModel):
    """A route's query parameters: each field one parameter, sent as a string (the last one counts when
    it is repeated). Parameters it does not declare are ignored. The field types and descriptions feed
    the 400 messages and the OpenAPI description, as a body model's do; a listing's route adds paging's
    parameters to its model (``api/paging.py``)."""

    model_config = ConfigDict(extra="ignore")

    def filters(self) -> dict[str, Any]:
        """Every parameter by name, None where not sent (what the services' listings take); fields declared
        with ``exclude=True`` (paging's) are not filters."""
        return self.model_dump(by_alias=True)


def _query_time(value: str) -> str:
    try:
        return to_iso(parse_time(value))
    except ValueError:
        raise ValueError("must be an ISO-8601 time, e.g. 2026-11-25T14:00:00Z") from None


#: A time in a query parameter, passed on in the API's own form (naive times are UTC).
QueryTime = Annotated[str, AfterValidator(_query_time),
                      WithJsonSchema({"type": "string", "format": "date-time"})]


#: The error type of a message that names its parameter itself: it reaches the caller word for word.
WHOLE_MESSAGE = "whole_message"


def refusal(message: str) -> PydanticCustomError:
    """A validator's error shown as ``message`` alone (no ``field:`` prefix), for a message that reads
    better naming its parameter itself (``$limit must be an integer from 1 to 500``)."""
    return PydanticCustomError(WHOLE_MESSAGE, message)


def _where(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "the request body"


def validation_messages(exc: ValidationError) -> list[str]:
    """One message per problem, each naming the field; unknown fields first, together."""
    unknown: list[str] = []
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        kind, loc = error["type"], error["loc"]
        if kind == "json_invalid":
            return [f"the request body is not valid JSON ({error.get('ctx', {}).get('error', 'syntax error')})"]
        if not loc and kind in ("model_type", "model_attributes_type", "dict_type"):
            return ["the request body must be a JSON object"]
        if not loc and kind == "list_type":  # a body that is a list (a root model's)
            return ["the request body must be a JSON array"]
        if kind == WHOLE_MESSAGE:
            problems.append(error["msg"])
        elif kind == "extra_forbidden":
            unknown.append(_where(loc))
        elif kind == "missing":
            problems.append(f"{_where(loc)} is required")
        else:
            message = error["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
            problems.append(f"{_where(loc)}: {message}")
    if unknown:
        problems.insert(0, f"unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    return problems


# -- responses ----------------------------------------------------------------
@dataclass(frozen=True)
class WriteSecret:
    """Marks a reply field holding a secret that lets its bearer write to ``resource`` (a sink's ingest
    secret, a webhook's secret): ``Annotated[str | None, WriteSecret("sinks")]``.

    Reading an object must not hand out the power to change it, so the field
    is rendered as ``null`` for callers without ``<resource>:write`` (see
    :func:`shaper`'s ``withheld``). Its description should say so.
    """

    resource: str


class Resource(BaseModel):
    """A reply's shape: every field is always present (``None`` where nullable), nothing else is.

    Response models are declarations, not validators on the request path: the
    HTTP layer renders each reply through :func:`shaper` (only declared fields
    leave the server) and the OpenAPI description is generated from them.
    """

    model_config = ConfigDict(extra="forbid")


class Stored(Resource):
    """What the store maintains on every object."""

    id: str = Field(description="UUIDv7: time-ordered.")
    created_at: datetime
    updated_at: datetime


class Error(Resource):
    """Every error reply."""

    error: str = Field(description="What is wrong, naming the field.")


@functools.cache
def page_of(model: type[Resource]) -> type[Resource]:
    """``{"items": [model...], "trail": str | null}``: one page of a listing."""
    return create_model(f"{model.__name__}Page", __base__=Resource,
                        __doc__=f"One page of {model.__name__} objects, newest first unless $order=asc.",
                        items=(list[model], ...),  # type: ignore[valid-type]
                        trail=(str | None, Field(description="Pass back as $trail for the next page; "
                                                             "null on the last page.")))


def _resource_in(annotation: Any) -> tuple[str, type[Resource]] | None:
    """("one" | "list", model) when a field holds response models (maybe nullable), else None."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return _resource_in(options[0]) if len(options) == 1 else None
    if origin is list:
        inner = get_args(annotation)
        if inner and isinstance(inner[0], type) and issubclass(inner[0], Resource):
            return "list", inner[0]
        return None
    if isinstance(annotation, type) and issubclass(annotation, Resource):
        return "one", annotation
    return None


def _withhold(value: Any) -> None:
    return None


@functools.cache
def shaper(model: type[BaseModel], withheld: frozenset[str] = frozenset()) -> Callable[[Any], Any]:
    """A function rendering a plain value (dicts, lists) as ``model`` declares it.

    It keeps the declared fields only, recursing into fields that hold other
    response models; everything else passes as it is. A model that allows
    extra fields passes whole. Fields marked :class:`WriteSecret` of a
    resource in ``withheld`` (those the caller may not write) are ``null``.
    Costs a dict comprehension per object.
    """
    if model.model_config.get("extra") != "forbid":
        return lambda value: value
    plan: list[tuple[str, Callable[[Any], Any] | None]] = []
    for name, info in model.model_fields.items():
        if any(isinstance(m, WriteSecret) and m.resource in withheld for m in info.metadata):
            plan.append((info.alias or name, _withhold))
            continue
        nested = _resource_in(info.annotation)
        inner: Callable[[Any], Any] | None = None
        if nested is not None:
            kind, sub = nested
            one = shaper(sub, withheld)
            if kind == "list":
                def inner(value: Any, one: Callable[[Any], Any] = one) -> Any:
                    return [one(v) for v in value] if isinstance(value, list) else value
            else:
                def inner(value: Any, one: Callable[[Any], Any] = one) -> Any:
                    return one(value) if isinstance(value, dict) else value
        plan.append((info.alias or name, inner))

    def shape(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {key: (convert(value[key]) if convert else value[key]) for key, convert in plan if key in value}

    return shape
