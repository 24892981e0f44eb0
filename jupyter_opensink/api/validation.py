"""Request bodies and query parameters through their models, with 400 messages that name the field."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from ..errors import Invalid
from ..models.common import Model, Query, validation_messages

M = TypeVar("M", bound=BaseModel)
Q = TypeVar("Q", bound=Query)
MAX_REPORTED = 10
_NOT_JSON_NUMBER = re.compile(r"NaN|Infinity")


class Empty(Model):
    """For actions that take no body (an empty body or ``{}``)."""


def parse_body(model: type[M], raw: bytes) -> M:
    if not raw.strip():
        if model is Empty:
            raw = b"{}"
        elif model.model_json_schema().get("type") == "array":  # a root model of a list
            raise Invalid("the request body must be a JSON array")
        else:
            raise Invalid("the request body must be a JSON object")
    try:
        parsed = model.model_validate_json(raw)
    except ValidationError as exc:
        raise Invalid(describe(exc)) from None
    require_standard_json(raw)
    return parsed


def require_standard_json(raw: bytes) -> None:
    """Raises ``Invalid`` unless ``raw`` is standard JSON.

    pydantic's parser also reads ``NaN``, ``Infinity`` and ``-Infinity`` (and ``1e999`` as infinity)
    into free-form fields (item data, state values, answers); JSON has no such numbers, so they were
    stored, and shown, as null. orjson reads standard JSON only: it checks the body once pydantic
    has accepted it (so the usual messages stay those of the models).
    """
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        text = raw.decode("utf-8", "replace")
        word = _NOT_JSON_NUMBER.match(text, exc.pos)
        if word is not None:
            raise Invalid(f"the request body is not standard JSON: {word.group()} is not a JSON number "
                          f"(line {exc.lineno} column {exc.colno})") from None
        raise Invalid(f"the request body is not standard JSON: {exc}") from None


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


def standard_json(value: Any) -> bytes:
    """``value`` (already parsed, as MCP tool arguments are) as JSON bytes; ``Invalid`` if it holds NaN or
    an infinity, which orjson would write as null (the same rule as ``require_standard_json``)."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":")).encode()
    except ValueError:
        raise Invalid("arguments: NaN and Infinity are not JSON numbers") from None

