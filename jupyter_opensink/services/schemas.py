"""JSON Schema checks with the jsonschema library: schemas people send, values against them.

Schemas come from callers, so they are handled as untrusted input:
- a ``$ref`` is only ever looked up inside the schema (and the drafts' own meta-schemas): the
  server never fetches a URL named in a schema (that would be a request to anywhere, made from
  the server, blocking it);
- a ``$ref`` that leads nowhere is refused when the schema is stored, not found when a value is
  checked against it;
- nesting is bounded, and a schema that refers to itself without end is refused: checking a value
  against either would exhaust the interpreter's stack.
"""

from __future__ import annotations

from typing import Any

from jsonschema import exceptions, validators
from jsonschema_specifications import REGISTRY as META_SCHEMAS
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012, specification_with

from ..errors import Invalid

MAX_REPORTED = 20
#: How deep a schema may nest (objects and arrays): far below what exhausts the stack.
MAX_DEPTH = 64
#: What a ``$ref`` can reach besides the schema itself: the meta-schemas, and no retrieval.
OFFLINE: Registry = Registry()
_REFERENCES = ("$ref", "$dynamicRef")


def depth(value: Any) -> int:
    """How deeply ``value`` nests (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _validator(schema: dict[str, Any]):
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER, registry=OFFLINE)


def _check_references(schema: dict[str, Any], field: str) -> None:
    """Every ``$ref`` must resolve inside the schema (or to a meta-schema)."""
    dialect = schema.get("$schema")
    specification = specification_with(dialect, default=DRAFT202012) if isinstance(dialect, str) else DRAFT202012
    root = Resource(contents=schema, specification=specification)
    pending = [(root, META_SCHEMAS.resolver_with_root(root))]
    while pending:
        resource, resolver = pending.pop()
        contents = resource.contents
        if isinstance(contents, dict):
            for keyword in _REFERENCES:
                ref = contents.get(keyword)
                if isinstance(ref, str):
                    try:
                        resolver.lookup(ref)
                    except Unresolvable:
                        raise Invalid(f"{field}: {keyword} {ref!r} does not resolve inside the schema (references "
                                      "are followed only within it, never to a URL)") from None
        pending.extend((sub, resolver.in_subresource(sub)) for sub in resource.subresources())


def check_schema(schema: Any, *, field: str = "schema", object_only: bool = False) -> None:
    """400 unless ``schema`` is a valid JSON Schema (of the draft it names; 2020-12 otherwise)."""
    if not isinstance(schema, dict):
        raise Invalid(f"{field}: must be a JSON Schema object")
    if depth(schema) > MAX_DEPTH:
        raise Invalid(f"{field}: nests deeper than {MAX_DEPTH} levels")
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise Invalid(f"{field}: not a valid JSON Schema ({where + ': ' if where else ''}{exc.message})") from None
    _check_references(schema, field)
    declared = schema.get("type")
    if object_only and declared is not None and declared != "object":
        raise Invalid(f"{field}: must describe an object (\"type\": \"object\"), since responses are objects")
    try:  # a reference cycle that never reaches a value loops on the simplest ones
        for probe in ({}, None):
            _validator(schema).is_valid(probe)
    except RecursionError:
        raise Invalid(f"{field}: refers to itself without end") from None


def violations(schema: dict[str, Any], value: Any) -> list[str]:
    """Every way ``value`` breaks ``schema``, each naming where (``(root)`` for the top)."""
    validator = _validator(schema)
    found = []
    for error in sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{where}: {error.message}")
    return found


def require_valid(schema: dict[str, Any], value: Any, *, field: str) -> None:
    try:
        problems = violations(schema, value)
    except RecursionError:  # a recursive schema walked as deep as a deeply nested value goes
        raise Invalid(f"{field} nests too deeply to be checked against the schema") from None
    except Unresolvable:  # stored before references were checked
        raise Invalid(f"{field} cannot be checked: the schema has a $ref that does not resolve") from None
    if problems:
        shown = problems[:MAX_REPORTED]
        more = f"; and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        raise Invalid(f"{field} does not match the schema: " + "; ".join(shown) + more)
