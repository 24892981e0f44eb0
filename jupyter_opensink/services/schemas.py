"""JSON Schema checks with the jsonschema library: schemas people send, values against them."""

from __future__ import annotations

from typing import Any

from jsonschema import exceptions, validators

from ..errors import Invalid

MAX_REPORTED = 20


def check_schema(schema: Any, *, field: str = "schema", object_only: bool = False) -> None:
    """400 unless ``schema`` is a valid JSON Schema (of the draft it names; 2020-12 otherwise)."""
    if not isinstance(schema, dict):
        raise Invalid(f"{field}: must be a JSON Schema object")
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise Invalid(f"{field}: not a valid JSON Schema ({where + ': ' if where else ''}{exc.message})") from None
    declared = schema.get("type")
    if object_only and declared is not None and declared != "object":
        raise Invalid(f"{field}: must describe an object (\"type\": \"object\"), since responses are objects")


def violations(schema: dict[str, Any], value: Any) -> list[str]:
    """Every way ``value`` breaks ``schema``, each naming where (``(root)`` for the top)."""
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    found = []
    for error in sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{where}: {error.message}")
    return found


def require_valid(schema: dict[str, Any], value: Any, *, field: str) -> None:
    problems = violations(schema, value)
    if problems:
        shown = problems[:MAX_REPORTED]
        more = f"; and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        raise Invalid(f"{field} does not match the schema: " + "; ".join(shown) + more)
