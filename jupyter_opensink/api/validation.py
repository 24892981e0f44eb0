"""Request bodies through the resource models, with 400 messages that name the field."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import Invalid
from ..models.common import Model

M = TypeVar("M", bound=BaseModel)
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


def _where(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def describe(exc: ValidationError) -> str:
    unknown: list[str] = []
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        kind, loc = error["type"], error["loc"]
        if kind == "json_invalid":
            return f"the request body is not valid JSON ({error['ctx'].get('error', 'syntax error')})"
        if not loc and kind in ("model_type", "model_attributes_type", "dict_type"):
            return "the request body must be a JSON object"
        if kind == "extra_forbidden":
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
    shown = problems[:MAX_REPORTED]
    if len(problems) > MAX_REPORTED:
        shown.append(f"and {len(problems) - MAX_REPORTED} more")
    return "; ".join(shown)
