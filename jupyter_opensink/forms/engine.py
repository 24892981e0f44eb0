"""JSON Schema -> a tree of form fields, and what a person entered back to a JSON value.

The one form engine: the approval page draws the tree as plain HTML controls and
``widgets/forms.py`` as ipywidgets; the labextension's ``forms.ts`` is a port held
to the same rules (which schema gets which input, how an entry becomes JSON; what
cannot be drawn becomes a JSON text area) by ``tests/fixtures/form-cases.json``.
Every field is named by its position in the tree (``f-0-2``) so no property name
can clash with another or with a surface's own fields; ``read`` takes the entries
by those names, as text, as an HTML form posts them (a ticked checkbox is present).
Pure data (the standard library only), so the kernel and the server can both use it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from .moments import UTC, moment, utc, wall_time
from .rules import LONG_TEXT

COMPOSED = ("oneOf", "anyOf", "allOf", "$ref", "not")
SIMPLE_ITEMS = ("string", "number", "integer")
#: A number as a person types it: JSON's digits and exponent (also a leading "+" or "."), nothing
#: else, so every surface reads the same text the same way ("1_000", "0x10", "NaN" are not numbers).
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass
class FormField:
    kind: str  # fixed, group, boolean, choice, date, datetime, text, textarea, number, list, json
    name: str  # the control's name in the form
    key: str  # the property it fills
    label: str
    required: bool
    description: str | None = None
    initial: str = ""  # the control's first content (for a boolean: "on" when checked)
    value: Any = None  # fixed: the value always sent; datetime: the default's instant (UTC)
    has_value: bool = True  # fixed: False for readOnly without const or default (nothing to send)
    fields: list[FormField] = field(default_factory=list)  # group
    options: list[Any] = field(default_factory=list)  # choice
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    item_type: str = ""  # list
    title: str = ""  # the label without the required marker (for messages)

    @property
    def shown_value(self) -> str:
        return json.dumps(self.value) if self.has_value else ""


def _title(schema: dict[str, Any], key: str) -> str:
    return schema["title"] if isinstance(schema.get("title"), str) and schema["title"] else key


def _label(schema: dict[str, Any], key: str, required: bool) -> str:
    title = _title(schema, key)
    return f"{title} *" if required else title


def _number_text(value: Any) -> str:
    """A number as JavaScript's ``String`` writes it (1.0 is "1"), so every surface shows the same text."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return json.dumps(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def _entry_text(value: Any) -> str:
    return value if isinstance(value, str) else _number_text(value) or json.dumps(value)


def _bound(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def describe(schema: Any, key: str = "", required: bool = False, name: str = "f", *,
             zone: tzinfo = UTC) -> FormField:
    """The field tree for ``schema`` (the request's own object at the top, described as required); a
    date-time default is shown as the wall time in ``zone``, the person's time zone."""
    s = schema if isinstance(schema, dict) else {}
    description = s.get("description") if isinstance(s.get("description"), str) else None
    base = {"name": name, "key": key, "label": _label(s, key, required), "required": required,
            "description": description, "title": _title(s, key)}

    def json_editor() -> FormField:
        return FormField("json", initial=json.dumps(s["default"], indent=2, ensure_ascii=False)
                         if "default" in s else "", **base)

    if s is not schema or any(k in s for k in COMPOSED):
        return json_editor()
    if "const" in s:
        return FormField("fixed", value=s["const"], **base)
    if s.get("readOnly") is True:
        # No value to send: left out of the answer (null would break its type).
        return FormField("fixed", value=s.get("default"), has_value="default" in s, **base)
    kind = s.get("type")
    if kind == "object" or (kind is None and "properties" in s):
        if not isinstance(s.get("properties"), dict):
            return json_editor()
        needed = set(s.get("required") or []) if isinstance(s.get("required"), list) else set()
        fields = [describe(sub, prop, prop in needed, f"{name}-{i}", zone=zone)
                  for i, (prop, sub) in enumerate(s["properties"].items())]
        return FormField("group", fields=fields, **base)
    if kind == "boolean":
        return FormField("boolean", initial="on" if s.get("default") is True else "", **base)
    if kind == "string":
        if isinstance(s.get("enum"), list):
            options = s["enum"]
            initial = str(options.index(s["default"])) if s.get("default") in options else ""
            return FormField("choice", options=options, initial=initial, **base)
        initial = s["default"] if isinstance(s.get("default"), str) else ""
        if s.get("format") == "date":
            return FormField("date", initial=initial, **base)
        if s.get("format") == "date-time":
            at = moment(initial, UTC) if initial else None
            return FormField("datetime", initial=wall_time(initial, zone), value=utc(at) if at else None,
                             **base)
        long = s.get("format") == "textarea" or (isinstance(s.get("maxLength"), int) and s["maxLength"] > LONG_TEXT)
        return FormField("textarea" if long else "text", initial=initial, **base)
    if kind in ("number", "integer"):
        return FormField("number", integer=kind == "integer", initial=_number_text(s.get("default")),
                         minimum=_bound(s.get("minimum")), maximum=_bound(s.get("maximum")), **base)
    items = s.get("items")
    if (kind == "array" and isinstance(items, dict) and items.get("type") in SIMPLE_ITEMS
            and not any(k in items for k in COMPOSED)):
        default = s["default"] if isinstance(s.get("default"), list) else []
        initial = "\n".join(_entry_text(v) for v in default)
        return FormField("list", item_type=items["type"], initial=initial, **base)
    return json_editor()


def proposed(schema: Any, defaults: Any) -> Any:
    """``schema`` with what the agent proposes (a request's ``defaults``) as each field's ``default``, so
    the form opens filled with the proposal and "approve as proposed" sends it unchanged. A property the
    proposal leaves out keeps the schema's own default (or none); ``schema`` itself is not changed."""
    if not isinstance(schema, dict) or not isinstance(defaults, dict):
        return schema
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {**schema, "default": defaults}
    filled = {}
    for prop, sub in properties.items():
        if prop in defaults and isinstance(sub, dict):
            value = defaults[prop]
            nested = isinstance(value, dict) and isinstance(sub.get("properties"), dict)
            filled[prop] = proposed(sub, value) if nested else {**sub, "default": value}
        else:
            filled[prop] = sub
    return {**schema, "properties": filled}


def asks_time(spec: FormField) -> bool:
    """Whether the form has a date and time, so a surface that cannot know the person's time zone (a page
    without script) must ask for it."""
    return spec.kind == "datetime" or any(asks_time(sub) for sub in spec.fields)


class FormErrors(ValueError):
    """Entries that are not usable: ``problems`` maps a control's name to what is wrong."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(problems.values()))
        self.problems = problems


_MISSING = object()
#: Kinds whose control can be left empty (so, when required, must not be).
_CAN_BE_EMPTY = ("choice", "date", "datetime", "text", "textarea", "number", "json")


def _number(integer: bool, text: str) -> int | float:
    """A number input's text as JSON reads it ("10" is 10, "1.5" is 1.5, "1e3" is 1000.0)."""
    if not NUMBER.fullmatch(text.strip()):
        raise ValueError(f'"{text}" is not a number')
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f'"{text}" is not a number') from None
    if not math.isfinite(value):
        raise ValueError(f'"{text}" is not a number')
    if integer and not value.is_integer():
        raise ValueError(f'"{text}" is not a whole number')
    plain = text.strip().lstrip("+-").isdigit()
    return int(value) if integer or plain else value


def _not_a_number(word: str) -> Any:
    raise ValueError(f"{word} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number")
    return value


def _leaf(spec: FormField, form: Mapping[str, str], zone: tzinfo) -> Any:
    raw = form.get(spec.name, "")
    if spec.kind == "fixed":
        return spec.value if spec.has_value else _MISSING
    if spec.kind == "boolean":
        return spec.name in form
    if spec.kind == "choice":
        if raw == "":
            return _MISSING
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or int(raw) >= len(spec.options):
            raise ValueError("pick one of the choices")
        return spec.options[int(raw)]
    if raw.strip() == "" and spec.kind not in ("text", "textarea", "list"):
        return _MISSING
    if spec.kind == "number":
        return _number(spec.integer, raw)
    if spec.kind == "datetime":
        if spec.value and raw.strip() == spec.initial:
            return spec.value  # the default, untouched: the same instant, whichever zone the person picked
        at = moment(raw, zone)
        if at is None:
            raise ValueError(f'"{raw}" is not a date and time')
        return utc(at)
    if spec.kind == "list":
        entries = [line.strip() for line in re.split(r"\r\n|\r|\n", raw) if line.strip()]
        if spec.item_type == "string":
            return entries
        return [_number(spec.item_type == "integer", e) for e in entries]
    if spec.kind == "json":
        try:  # standard JSON only: NaN and Infinity would be stored as null
            return json.loads(raw, parse_constant=_not_a_number, parse_float=_finite)
        except ValueError as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
    return _MISSING if raw == "" else raw  # text, textarea, date


def _entered(spec: FormField, form: Mapping[str, str]) -> bool:
    """Whether the person filled ``spec`` in: a fixed value is no entry; unticking a checkbox ticked by
    default is one (it says no)."""
    if spec.kind == "fixed":
        return False
    if spec.kind == "boolean":
        return spec.name in form or spec.initial == "on"
    return form.get(spec.name, "").strip() != ""


def read(spec: FormField, form: Mapping[str, str], *, zone: tzinfo = UTC) -> Any:
    """The JSON value of the posted ``form`` (control name -> text); raises ``FormErrors``.

    A form sends only what the person chose: an empty field is left out, and a required one left
    empty blocks the submit ("required", beside it). An optional object nothing was entered in is
    left out: sending ``{}`` would break its required properties, and a person cannot otherwise say
    "none". The request's own object (described as required) is always sent, ``{}`` at least. A date
    and time without an offset is the wall time in ``zone`` and is sent in UTC.
    """
    problems: dict[str, str] = {}

    def empty_but_required(node: FormField, got: Any) -> None:
        if got is _MISSING and node.required and node.kind in _CAN_BE_EMPTY and node.name not in problems:
            problems[node.name] = f"{node.title}: required"

    def value_of(node: FormField) -> tuple[Any, bool]:
        if node.kind == "group":
            out, entered, results = {}, False, []
            for sub in node.fields:
                got, filled = value_of(sub)
                entered = entered or filled
                results.append((sub, got))
                if got is not _MISSING:
                    out[sub.key] = got
            if not (entered or node.required):
                return _MISSING, False
            for sub, got in results:
                empty_but_required(sub, got)
            return out, entered
        try:
            return _leaf(node, form, zone), _entered(node, form)
        except ValueError as exc:
            problems[node.name] = f"{node.title}: {exc}"
            return _MISSING, True

    value, _ = value_of(spec)
    if value is _MISSING and spec.kind == "json" and spec.required:
        value = {}  # the request's own object drawn as a JSON editor: like a group, always sent
    empty_but_required(spec, value)
    if problems:
        raise FormErrors(problems)
    return None if value is _MISSING else value


def where(spec: FormField, pointer: str) -> str | None:
    """The control a schema violation's location points at: its ``path``, a JSON Pointer (``/a/b``)."""
    node = spec
    for part in [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/") if p and p != "(root)"]:
        if node.kind != "group":
            return None
        found = [sub for sub in node.fields if sub.key == part]
        if not found:
            return None
        node = found[0]
    return node.name if node is not spec else None
