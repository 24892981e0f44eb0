"""JSON Schema -> an HTML form's fields, and the posted form back to a JSON value.

The approval page's counterpart of ``widgets/forms.py`` and the
labextension's ``forms.ts``, with the same rules (which schema gets which
input, how an entry becomes JSON; what cannot be drawn becomes a JSON text
area), for a browser that may run no script: every field is a plain form
control, named by its position in the tree (``f-0-2``) so no property name
can clash with another or with the page's own fields.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..form_rules import LONG_TEXT, REJECT_FIELDS

COMPOSED = ("oneOf", "anyOf", "allOf", "$ref", "not")
SIMPLE_ITEMS = ("string", "number", "integer")


@dataclass
class FormField:
    kind: str  # fixed, group, boolean, choice, date, datetime, text, textarea, number, list, json
    name: str  # the control's name in the form
    key: str  # the property it fills
    label: str
    required: bool
    description: str | None = None
    initial: str = ""  # the control's first content (for a boolean: "on" when checked)
    value: Any = None  # fixed: the value always sent
    has_value: bool = True  # fixed: False for readOnly without const or default (nothing to send)
    fields: list[FormField] = field(default_factory=list)  # group
    options: list[Any] = field(default_factory=list)  # choice
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    item_type: str = ""  # list

    @property
    def shown_value(self) -> str:
        return json.dumps(self.value) if self.has_value else ""


def _label(schema: dict[str, Any], key: str, required: bool) -> str:
    title = schema.get("title") if isinstance(schema.get("title"), str) and schema.get("title") else key
    return f"{title} *" if required else title


def _number_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def _bound(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def describe(schema: Any, key: str = "", required: bool = False, name: str = "f") -> FormField:
    """The field tree for ``schema`` (the request's own object at the top)."""
    s = schema if isinstance(schema, dict) else {}
    description = s.get("description") if isinstance(s.get("description"), str) else None
    base = {"name": name, "key": key, "label": _label(s, key, required), "required": required,
            "description": description}

    def json_editor() -> FormField:
        return FormField("json", initial=json.dumps(s["default"], indent=2) if "default" in s else "", **base)

    if s is not schema or any(k in s for k in COMPOSED):
        return json_editor()
    if "const" in s:
        return FormField("fixed", value=s["const"], **base)
    if s.get("readOnly") is True:
        # No value to send: left out of the answer, as the notebook widget does (null would break its type).
        return FormField("fixed", value=s.get("default"), has_value="default" in s, **base)
    kind = s.get("type")
    if kind == "object" or (kind is None and "properties" in s):
        if not isinstance(s.get("properties"), dict):
            return json_editor()
        needed = set(s.get("required") or []) if isinstance(s.get("required"), list) else set()
        fields = [describe(sub, prop, prop in needed, f"{name}-{i}")
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
            return FormField("datetime", initial=_datetime_local(initial), **base)
        long = s.get("format") == "textarea" or (isinstance(s.get("maxLength"), int) and s["maxLength"] > LONG_TEXT)
        return FormField("textarea" if long else "text", initial=initial, **base)
    if kind in ("number", "integer"):
        return FormField("number", integer=kind == "integer", initial=_number_text(s.get("default")),
                         minimum=_bound(s.get("minimum")), maximum=_bound(s.get("maximum")), **base)
    items = s.get("items")
    if (kind == "array" and isinstance(items, dict) and items.get("type") in SIMPLE_ITEMS
            and not any(k in items for k in COMPOSED)):
        initial = "\n".join(str(v) for v in s["default"]) if isinstance(s.get("default"), list) else ""
        return FormField("list", item_type=items["type"], initial=initial, **base)
    return json_editor()


def _datetime_local(value: str) -> str:
    """An ISO time as ``<input type=datetime-local>`` holds it: UTC wall time (the page says so)."""
    from datetime import datetime, timezone

    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M")


class FormErrors(Exception):
    """Entries that are not usable: ``problems`` maps a control's name to what is wrong."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(problems.values()))
        self.problems = problems


_MISSING = object()


def _number(integer: bool, text: str) -> int | float:
    """A number input's text as JSON reads it ("10" is 10, "1.5" is 1.5, "1e3" is 1000.0)."""
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


def _leaf(spec: FormField, form: dict[str, str]) -> Any:
    raw = form.get(spec.name, "")
    if spec.kind == "fixed":
        return spec.value if spec.has_value else _MISSING
    if spec.kind == "boolean":
        return spec.name in form
    if spec.kind == "choice":
        if raw == "":
            return _MISSING
        if not raw.isdigit() or int(raw) >= len(spec.options):
            raise ValueError("pick one of the choices")
        return spec.options[int(raw)]
    if raw.strip() == "" and spec.kind not in ("text", "textarea", "list"):
        return _MISSING
    if spec.kind == "number":
        return _number(spec.integer, raw)
    if spec.kind == "datetime":
        from datetime import datetime

        try:
            moment = datetime.strptime(raw.strip()[:16], "%Y-%m-%dT%H:%M")
        except ValueError:
            raise ValueError(f'"{raw}" is not a date and time') from None
        return moment.strftime("%Y-%m-%dT%H:%M:00Z")
    if spec.kind == "list":
        entries = [line.strip() for line in raw.splitlines() if line.strip()]
        if spec.item_type == "string":
            return entries
        return [_number(spec.item_type == "integer", e) for e in entries]
    if spec.kind == "json":
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
    return _MISSING if raw == "" else raw  # text, textarea, date


def _entered(spec: FormField, form: dict[str, str]) -> bool:
    """Whether the person filled ``spec`` in: a fixed value is no entry; unticking a checkbox ticked by
    default is one (it says no)."""
    if spec.kind == "fixed":
        return False
    if spec.kind == "boolean":
        return spec.name in form or spec.initial == "on"
    return form.get(spec.name, "").strip() != ""


def read(spec: FormField, form: dict[str, str]) -> Any:
    """The JSON value of the posted ``form`` (control name -> text); raises ``FormErrors``.

    An optional object nothing was entered in is left out: sending ``{}`` would break its required
    properties, and a person cannot otherwise say "none".
    """
    problems: dict[str, str] = {}

    def value_of(node: FormField) -> tuple[Any, bool]:
        if node.kind == "group":
            out, entered = {}, False
            for sub in node.fields:
                got, filled = value_of(sub)
                entered = entered or filled
                if got is not _MISSING:
                    out[sub.key] = got
            return (out if entered or node.required else _MISSING), entered
        try:
            return _leaf(node, form), _entered(node, form)
        except ValueError as exc:
            problems[node.name] = f"{node.label.rstrip(' *')}: {exc}"
            return _MISSING, True

    value, _ = value_of(spec)
    if problems:
        raise FormErrors(problems)
    return value


def reject_field(spec: FormField) -> FormField | None:
    """The top group's checkbox a Reject button clears, if the schema has one."""
    if spec.kind != "group":
        return None
    for key in REJECT_FIELDS:
        for sub in spec.fields:
            if sub.key == key and sub.kind == "boolean":
                return sub
    return None


def where(spec: FormField, pointer: str) -> str | None:
    """The control a schema violation's location (``a/b``, from ``services.schemas.violations``) points at."""
    node = spec
    for part in [p for p in pointer.split("/") if p and p != "(root)"]:
        if node.kind != "group":
            return None
        found = [sub for sub in node.fields if sub.key == part]
        if not found:
            return None
        node = found[0]
    return node.name if node is not spec else None
