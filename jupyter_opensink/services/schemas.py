"""JSON Schema checks with jsonschema-rs: schemas people send, values against them.

Schemas come from callers, so they are handled as untrusted input:
- checking is done by jsonschema-rs (compiled code) with its linear-time regular expression engine:
  no schema and value can hold the event loop for long (with the pure-Python library, ``uniqueItems``
  over a few thousand objects, a backtracking ``pattern`` or a long ``allOf`` took seconds each);
  patterns needing backtracking (lookaround, backreferences) are refused as not a valid regex;
- a ``$ref`` is only ever looked up inside the schema (and the drafts' own meta-schemas): the
  retriever refuses every URL, so the server never fetches one (that would be a request to
  anywhere, made from the server, blocking it);
- a ``$ref`` that leads nowhere is refused when the schema is stored, not found when a value is
  checked against it;
- size and nesting are bounded, and a schema that refers to itself without end (``{"$ref": "#"}``)
  is refused: it describes nothing, and is almost certainly a mistake.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import unquote, urldefrag, urljoin

import jsonschema_rs

from ..errors import Invalid

MAX_REPORTED = 20
#: Violations listed at most: past it, the count says "more" (a huge array of wrong items stays cheap).
MAX_COUNTED = 1000
#: A violation's message is cut to about this long (it quotes the value, and perhaps an ``enum``).
MAX_MESSAGE = 300
#: How deep a schema may nest (objects and arrays).
MAX_DEPTH = 64
#: How large a schema may be, as compact JSON (UTF-8): a form or a configuration needs far less.
MAX_SIZE = 256 * 1024
#: Linear-time matching for ``pattern`` and ``patternProperties`` (and the ``regex`` format).
PATTERNS = jsonschema_rs.RegexOptions()
_OLD_DRAFTS = (jsonschema_rs.Draft4Validator, jsonschema_rs.Draft6Validator, jsonschema_rs.Draft7Validator)

#: Keywords holding subschemas: one, a list of them, or a map to them. Those applying to the same value as
#: their parent can make a cycle that never ends; the others apply to a part of the value (or only define).
_ONE = frozenset(("not", "if", "then", "else", "additionalProperties", "additionalItems", "contains",
                  "propertyNames", "unevaluatedItems", "unevaluatedProperties", "items"))
_LIST = frozenset(("allOf", "anyOf", "oneOf", "prefixItems", "items"))
_MAP = frozenset(("dependentSchemas", "dependencies", "properties", "patternProperties", "$defs",
                  "definitions"))
_IN_PLACE = frozenset(("not", "if", "then", "else", "allOf", "anyOf", "oneOf", "dependentSchemas",
                       "dependencies"))
_KEYWORDS = _ONE | _LIST | _MAP
_REFERENCES = ("$ref", "$dynamicRef", "$recursiveRef")


class SchemaMismatch(Invalid):
    """A value breaks its schema. ``violations`` say where and what, field by field (the 400 reply lists
    the first ``MAX_REPORTED``); ``problems`` are the same as ``"<location>: <message>"`` lines."""

    def __init__(self, message: str, violations: list[Violation]):
        super().__init__(message)
        self.violations = violations
        self.problems = [v.text for v in violations]
        self.details = {"violations": [v.as_dict() for v in violations[:MAX_REPORTED]]}


class _Refusing:
    """The retriever: a ``$ref`` (or ``$schema``) naming anything outside the schema is never fetched.

    It notes what was asked, so that the caller is told which reference it was.
    """

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, uri: str) -> Any:
        self.asked.append(uri)
        raise LookupError(f"{uri} is not fetched")


def depth(value: Any) -> int:
    """How deeply ``value`` nests (a scalar is 0), one level at a time, stopping past ``MAX_DEPTH``."""
    level, frontier = 0, [value]
    while level <= MAX_DEPTH:
        inner: list[Any] = []
        containers = False
        for item in frontier:
            if isinstance(item, dict):
                inner.extend(item.values())
                containers = True
            elif isinstance(item, list):
                inner.extend(item)
                containers = True
        if not containers:
            break
        level, frontier = level + 1, inner
    return level


def _validator(schema: dict[str, Any], retriever: _Refusing | None = None) -> jsonschema_rs.Validator:
    """A compiled validator (draft from ``$schema``, 2020-12 otherwise); raises ``ValidationError`` for a
    schema that is not valid or has a ``$ref`` that does not resolve."""
    return jsonschema_rs.validator_for(schema, retriever=retriever or _Refusing(), validate_formats=True,
                                       pattern_options=PATTERNS)


def _schema_error(exc: jsonschema_rs.ValidationError, field: str, asked: list[str]) -> Invalid:
    """What is wrong with a schema, as the caller wrote it (``where`` is a path inside the schema)."""
    if exc.kind.name == "$ref" and not exc.message.startswith("Unknown meta-schema"):
        named = f" {asked[-1]!r}" if asked else ""
        detail = "" if asked else f" ({exc.message})"
        return Invalid(f"{field}: $ref{named} does not resolve inside the schema{detail}; references are "
                       "followed only within it, never to a URL")
    where = "/".join(str(p) for p in exc.instance_path)
    message = exc.message
    if isinstance(exc.kind, jsonschema_rs.ValidationErrorKind.Format) and exc.kind.format == "regex":
        message += " (patterns are matched in linear time: no lookaround or backreferences)"
    return Invalid(f"{field}: not a valid JSON Schema ({where + ': ' if where else ''}{message})")


def _unconverted(exc: ValueError) -> str:
    """Why jsonschema-rs could not take a value: in JSON from a caller, a string or a key with a lone
    surrogate (Python's json module reads a ``"\\ud800"`` escape as one; UTF-8 has no such character)."""
    if "utf-8" in str(exc).lower():
        return "it contains text that is not valid Unicode: a lone surrogate"
    return str(exc)


def _join(base: str, reference: str) -> tuple[str, str] | None:
    """``reference`` made absolute against ``base``: (URI, fragment); None if Python cannot parse it."""
    try:
        return urldefrag(urljoin(base, reference))
    except ValueError:
        return None


def _refers_to_itself(schema: dict[str, Any]) -> bool:
    """Whether following ``$ref`` and the keywords that apply to the same value comes back where it started.

    Checking a value against such a schema never gets anywhere (jsonschema-rs stops the loop and lets
    the value pass, whatever it is), so it is refused like any other mistake. References are placed the
    way they are written in practice, as a JSON pointer or an anchor within the schema's resources
    (``$id``); one the walk cannot place is left out, which only ever lets a schema through.
    """
    draft = jsonschema_rs.validator_cls_for(schema)
    old = draft in _OLD_DRAFTS
    id_key = "id" if draft is jsonschema_rs.Draft4Validator else "$id"
    resources: dict[str, Any] = {"": schema}
    anchors: dict[tuple[str, str], dict[str, Any]] = {}
    #: Per subschema (by id): its base URI, its references, and its subschemas applying to the same value.
    found: dict[int, tuple[str, list[str], list[dict[str, Any]]]] = {}
    pending: list[tuple[dict[str, Any], str]] = [(schema, "")]
    interesting = _KEYWORDS | {*_REFERENCES, id_key, "$anchor", "$dynamicAnchor"}
    while pending:
        node, base = pending.pop()
        keys = node.keys() & interesting
        if not keys or id(node) in found:  # most subschemas: nothing to follow, nothing to note
            continue
        ident = node.get(id_key)
        if isinstance(ident, str) and ident.startswith("#"):  # an old draft's anchor: "$id": "#name"
            anchors.setdefault((base, unquote(ident[1:])), node)
        elif isinstance(ident, str):
            joined = _join(base, ident)
            base = joined[0] if joined else f"\0{id(node)}"  # unplaceable: nothing resolves against it
            resources.setdefault(base, node)
        for key in ("$anchor", "$dynamicAnchor"):
            if isinstance(node.get(key), str):
                anchors.setdefault((base, node[key]), node)
        refs = [node[k] for k in _REFERENCES if isinstance(node.get(k), str)]
        in_place: list[dict[str, Any]] = []
        for key in keys & _KEYWORDS:
            sub = node[key]
            if isinstance(sub, dict) and key in _ONE:
                subs = [sub]
            elif isinstance(sub, list) and key in _LIST:
                subs = [s for s in sub if isinstance(s, dict)]
            elif isinstance(sub, dict) and key in _MAP:
                subs = [s for s in sub.values() if isinstance(s, dict)]
            else:
                continue
            pending.extend((s, base) for s in subs)
            if key in _IN_PLACE and not (old and refs):  # before 2019-09, a $ref's siblings are ignored
                in_place.extend(subs)
        found[id(node)] = (base, refs, in_place)

    @functools.cache
    def resolve(base: str, ref: str) -> dict[str, Any] | None:
        joined = _join(base, ref)
        if joined is None or base.startswith("\0"):
            return None
        target, fragment = joined
        place: Any = resources.get(target)
        if place is None:
            return None
        fragment = unquote(fragment)
        if fragment and not fragment.startswith("/"):
            return anchors.get((target, fragment))
        for token in fragment.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(place, dict):
                place = place.get(token)
            elif isinstance(place, list) and token.isdigit() and int(token) < len(place):
                place = place[int(token)]
            else:
                return None
        return place if isinstance(place, dict) else None

    def next_to(node_id: int) -> Iterator[dict[str, Any]]:
        base, refs, in_place = found.get(node_id, ("", [], []))
        for ref in refs:
            target = resolve(base, ref)
            if target is not None:
                yield target
        yield from in_place

    done: set[int] = set()
    for start in [key for key, (_, refs, _) in found.items() if refs]:  # a cycle passes through a reference
        if start in done:
            continue
        on_path = {start}
        stack = [(start, next_to(start))]
        while stack:  # depth-first: an edge back to the path is a cycle
            node_id, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path.discard(node_id)
                done.add(node_id)
            elif id(child) in on_path:
                return True
            elif id(child) not in done:
                on_path.add(id(child))
                stack.append((id(child), next_to(id(child))))
    return False


def check_schema(schema: Any, *, field: str = "schema", object_only: bool = False) -> None:
    """400 unless ``schema`` is a valid JSON Schema (of the draft it names; 2020-12 otherwise)."""
    if not isinstance(schema, dict):
        raise Invalid(f"{field}: must be a JSON Schema object")
    text = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode(errors="surrogatepass")) > MAX_SIZE:
        raise Invalid(f"{field}: is larger than {MAX_SIZE // 1024} KiB")
    if depth(schema) > MAX_DEPTH:
        raise Invalid(f"{field}: nests deeper than {MAX_DEPTH} levels")
    retriever = _Refusing()
    try:
        _validator(schema, retriever)
    except jsonschema_rs.ValidationError as exc:
        raise _schema_error(exc, field, retriever.asked) from None
    except ValueError as exc:
        raise Invalid(f"{field}: not a valid JSON Schema ({_unconverted(exc)})") from None
    declared = schema.get("type")
    if object_only and declared is not None and declared != "object":
        raise Invalid(f"{field}: must describe an object (\"type\": \"object\"), since responses are objects")
    if any(f'"{keyword}"' in text for keyword in _REFERENCES) and _refers_to_itself(schema):
        raise Invalid(f"{field}: refers to itself without end")


@dataclass(frozen=True)
class Violation:
    """One way a value breaks its schema, for a person: where (a JSON Pointer, ``""`` for the whole
    value), the field as a form labels it (its ``title``, else its path), and what is wrong in plain words."""

    path: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "field": self.field, "message": self.message}

    @property
    def text(self) -> str:
        """``"<location>: <message>"``, ``(root)`` for the top: the form the error message lists."""
        return f"{self.path.lstrip('/') or '(root)'}: {self.message}"


def _quoted(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _one_of(options: list[Any]) -> str:
    if len(options) > 10:
        return f"must be one of the {len(options)} choices offered"
    return "must be one of " + ", ".join(_quoted(o) for o in options)


def _plain(kind: Any, fallback: str) -> str:
    """What a failed keyword asks of the value, said to a person (jsonschema-rs's message otherwise)."""
    name = getattr(kind, "name", "")
    limit = getattr(kind, "limit", None)
    said = {
        "maximum": lambda: f"must be at most {limit}",
        "minimum": lambda: f"must be at least {limit}",
        "exclusiveMaximum": lambda: f"must be less than {limit}",
        "exclusiveMinimum": lambda: f"must be more than {limit}",
        "multipleOf": lambda: f"must be a multiple of {getattr(kind, 'multiple_of', limit)}",
        "minLength": lambda: f"must be at least {limit} character{'s' * (limit != 1)} long",
        "maxLength": lambda: f"must be at most {limit} character{'s' * (limit != 1)} long",
        "minItems": lambda: f"must have at least {limit} item{'s' * (limit != 1)}",
        "maxItems": lambda: f"must have at most {limit} item{'s' * (limit != 1)}",
        "required": lambda: "is required",
        "enum": lambda: _one_of(getattr(kind, "options", [])),
        "const": lambda: f"must be {_quoted(getattr(kind, 'expected_value', None))}",
        "type": lambda: "must be " + " or ".join(_TYPE_WORDS.get(t, t) for t in getattr(kind, "types", [])),
        "format": lambda: f"must be a valid {getattr(kind, 'format', 'value')}",
        "pattern": lambda: f"does not have the expected form (it must match {getattr(kind, 'pattern', '')})",
        "uniqueItems": lambda: "items must be unique: one is repeated",
        "additionalProperties": lambda: "has fields the form does not ask for: "
                                        + ", ".join(getattr(kind, "unexpected", [])),
    }.get(name)
    return said() if said else fallback


_TYPE_WORDS = {"integer": "a whole number", "number": "a number", "string": "text", "boolean": "true or false",
               "object": "an object", "array": "a list", "null": "empty"}


def _pointer(parts: list[str]) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def field_title(schema: Any, parts: list[str]) -> str:
    """The label a form shows for the value at ``parts``: the schema's ``title`` there, else the path."""
    node: Any = schema
    for part in parts:
        if not isinstance(node, dict):
            node = None
            break
        properties = node.get("properties")
        if isinstance(properties, dict) and part in properties:
            node = properties[part]
        elif part.isdigit() and isinstance(node.get("items"), dict):
            node = node["items"]
        else:
            node = None
            break
    title = node.get("title") if isinstance(node, dict) else None
    if isinstance(title, str) and title.strip():
        return title.strip()
    return "/".join(parts) or "(the whole answer)"


def violations(schema: dict[str, Any], value: Any) -> list[Violation]:
    """How ``value`` breaks ``schema`` (up to ``MAX_COUNTED`` ways), in document order.

    A missing required field is reported at the field itself (``/quantity``), where a form shows it.
    Raises ``jsonschema_rs.ValidationError`` if the schema itself cannot be compiled.
    """
    found = []
    for error in _validator(schema).iter_errors(value):
        parts = [str(p) for p in error.instance_path]
        kind = error.kind
        if getattr(kind, "name", "") == "required" and isinstance(getattr(kind, "property", None), str):
            parts.append(kind.property)
        message = _plain(kind, error.message)
        if len(message) > MAX_MESSAGE:  # the value is quoted first: keep its start and what is said of it
            message = message[:MAX_MESSAGE // 2] + " … " + message[-MAX_MESSAGE // 2:]
        found.append((parts, Violation(_pointer(parts), field_title(schema, parts), message)))
        if len(found) >= MAX_COUNTED:
            break
    return [violation for _, violation in sorted(found, key=lambda pair: pair[0])]


def require_valid(schema: dict[str, Any], value: Any, *, field: str) -> None:
    """``SchemaMismatch`` (a 400) unless ``value`` matches ``schema`` (the message shows the first ones)."""
    try:
        problems = violations(schema, value)
    except jsonschema_rs.ValidationError as exc:  # stored under older rules (a lookaround in a pattern...)
        raise Invalid(f"{field} cannot be checked: the schema is not valid or has a $ref that does not "
                      f"resolve ({exc.message[:MAX_MESSAGE]})") from None
    except ValueError as exc:
        raise Invalid(f"{field} cannot be checked against the schema: {_unconverted(exc)}") from None
    if problems:
        shown = [p.text for p in problems[:MAX_REPORTED]]
        rest = len(problems) - MAX_REPORTED
        more = "" if rest <= 0 else f"; and {rest}{' or more' if len(problems) >= MAX_COUNTED else ''} more"
        raise SchemaMismatch(f"{field} does not match the schema: " + "; ".join(shown) + more, problems)
