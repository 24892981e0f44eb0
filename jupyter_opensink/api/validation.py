"""Request bodies and query parameters through their models, with 400 messages that name the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import Invalid
from ..models.common import Model, Query, validation_messages

M = TypeVar("M", bound=BaseModel)
Q = TypeVar("Q", bound=Query)
MAX_REPORTED = 10


class Empty(Model):
    """For actions that take no body (an empty body or ``{}``)."""


def parse_body(model: type[M], raw: bytes) -> M:
    if not raw.strip():
        if model is Empty:
            raw = b"{}"
        else:
            raise Invalid("the request body must be a JSON object")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise Invalid(describe(exc)) from None


def parse_query(model: type[Q], arg: Callable[[str], str | None]) -> Q:
    """The parameters ``model`` declares, read with ``arg(name)``; an invalid one is a 400 naming it."""
    sent = {}
    for name, info in model.model_fields.items():
        value = arg(info.alias or name)
        if value is not None:
            sent[info.alias or name] = value
    try:
        return model.model_validate(sent)
    except ValidationError as exc:
        raise Invalid(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    problems = validation_messages(exc)
    shown = problems[:MAX_REPORTED]
    if len(problems) > MAX_REPORTED:
        shown.append(f"and {len(problems) - MAX_REPORTED} more")
    return "; ".join(shown)
