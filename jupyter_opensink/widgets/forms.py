"""JSON Schema -> ipywidgets form fields, and back to a JSON value.

Each ``Field`` owns its widget and knows how to read the value a person
entered. What it cannot render (``oneOf``, ``$ref``, arrays of objects...)
becomes a JSON editor that checks its text parses.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any

import ipywidgets as w

from ..form_rules import LONG_TEXT

SIMPLE = ("string", "number", "integer")


def _label(schema: dict[str, Any], name: str, required: bool) -> str:
    title = schema.get("title") or name
    return f"{title} *" if required else title


def _help(schema: dict[str, Any]) -> w.HTML | None:
    text = schema.get("description")
    return w.HTML(f"<small>{html.escape(text)}</small>") if text else None


class Field:
    """A widget plus the way to read its value (``None`` = left empty)."""

    widget: w.Widget

    def value(self) -> Any:
        raise NotImplementedError


class Fixed(Field):
    """``const`` or ``readOnly``: shown, not editable, always sent."""

    def __init__(self, schema: dict[str, Any], name: str, required: bool):
        self._value = schema.get("const", schema.get("default"))
        self.widget = w.HTML(f"<b>{html.escape(_label(schema, name, required))}</b>: "
                             f"<code>{html.escape(json.dumps(self._value))}</code>")

    def value(self) -> Any:
        return self._value


class Simple(Field):
    """One input widget (``input``); ``widget`` may wrap it with its description."""

    def __init__(self, widget: w.Widget, convert=lambda v: v, empty=None):
        self.widget = self.input = widget
        self._convert, self._empty = convert, empty

    def value(self) -> Any:
        raw = self.input.value
        return None if raw == self._empty or raw is None else self._convert(raw)


class JsonEditor(Field):
    """The fallback: raw JSON, checked when read."""

    def __init__(self, schema: dict[str, Any], name: str, required: bool):
        initial = json.dumps(schema["default"], indent=2) if "default" in schema else ""
        self.widget = self.input = w.Textarea(value=initial, description=_label(schema, name, required),
                                 placeholder="JSON", layout=w.Layout(width="95%", height="6em"))

    def value(self) -> Any:
        text = self.input.value.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{self.input.description}: not valid JSON ({exc})") from None


class Group(Field):
    """An object: a titled box of its properties."""

    def __init__(self, schema: dict[str, Any], name: str, required: bool, top: bool = False):
        self.optional = not (required or top)
        needed = set(schema.get("required", []))
        self.fields = {key: build(sub, key, key in needed) for key, sub in schema.get("properties", {}).items()}
        children: list[w.Widget] = []
        if not top and (schema.get("title") or name):
            children.append(w.HTML(f"<b>{html.escape(_label(schema, name, required))}</b>"))
        if not top and (help_ := _help(schema)):
            children.append(help_)
        for field in self.fields.values():
            children.append(field.widget)
        layout = w.Layout(border="" if top else "1px solid #ddd", padding="0" if top else "4px", margin="2px 0")
        self.widget = w.VBox(children, layout=layout)

    def value(self) -> dict[str, Any] | None:
        """What was entered; an optional object nothing was entered in is left out (``None``), so its
        required properties do not stand in the way (as on the approval page)."""
        out = {}
        for key, field in self.fields.items():
            got = field.value()
            if got is not None:
                out[key] = got
        return None if self.optional and not out else out


def _string(schema: dict[str, Any], label: str) -> Field:
    default = schema.get("default")
    if "enum" in schema:
        options = [("", None)] + [(str(o), o) for o in schema["enum"]]
        return Simple(w.Dropdown(options=options, value=default if default in schema["enum"] else None,
                                 description=label))
    fmt = schema.get("format")
    if fmt == "date":
        value = dt.date.fromisoformat(default) if default else None
        return Simple(w.DatePicker(value=value, description=label), lambda d: d.isoformat())
    if fmt == "date-time":
        value = dt.datetime.fromisoformat(default.replace("Z", "+00:00")) if default else None
        return Simple(w.DatetimePicker(value=value, description=label),
                      lambda d: d.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"))
    long = fmt == "textarea" or schema.get("maxLength", 0) > LONG_TEXT
    cls = w.Textarea if long else w.Text
    return Simple(cls(value=default or "", description=label), empty="")


def _number(schema: dict[str, Any], label: str, integer: bool) -> Field:
    bounded = "minimum" in schema or "maximum" in schema
    kind = (w.BoundedIntText if bounded else w.IntText) if integer else (w.BoundedFloatText if bounded else w.FloatText)
    kwargs: dict[str, Any] = {"description": label}
    if bounded:
        kwargs["min"] = schema.get("minimum", -(2**53))
        kwargs["max"] = schema.get("maximum", 2**53)
    if "default" in schema:
        kwargs["value"] = schema["default"]
    elif bounded:
        kwargs["value"] = kwargs["min"] if kwargs["min"] > -(2**53) else 0
    return Simple(kind(**kwargs))


def _build(schema: Any, name: str, required: bool, *, top: bool) -> Field:
    if not isinstance(schema, dict) or any(k in schema for k in ("oneOf", "anyOf", "allOf", "$ref", "not")):
        return JsonEditor(schema if isinstance(schema, dict) else {}, name, required)
    if "const" in schema or schema.get("readOnly"):
        return Fixed(schema, name, required)
    kind = schema.get("type")
    label = _label(schema, name, required)
    if kind == "object" or (kind is None and "properties" in schema):
        if "properties" not in schema:
            return JsonEditor(schema, name, required)
        return Group(schema, name, required, top=top)
    if kind == "boolean":
        return Simple(w.Checkbox(value=bool(schema.get("default", False)), description=label, indent=False))
    if kind == "string":
        return _string(schema, label)
    if kind in ("number", "integer"):
        return _number(schema, label, integer=kind == "integer")
    if kind == "array" and isinstance(schema.get("items"), dict) and schema["items"].get("type") in SIMPLE:
        item_type = schema["items"]["type"]
        widget = {"string": w.TagsInput, "number": w.FloatsInput, "integer": w.IntsInput}[item_type](
            value=list(schema.get("default", [])), allow_duplicates=True)
        return ListField(w.VBox([w.HTML(html.escape(label)), widget]), widget)
    return JsonEditor(schema, name, required)


def build(schema: Any, name: str = "", required: bool = False, *, top: bool = False) -> Field:
    """The field for ``schema``; anything it does not know becomes a JSON editor."""
    field = _build(schema, name, required, top=top)
    help_ = _help(schema) if isinstance(schema, dict) and not isinstance(field, Group) else None
    if help_ is not None:
        field.widget = w.VBox([field.widget, help_])
    return field


class ListField(Field):
    """An array of strings or numbers: a tags-style input."""

    def __init__(self, box: w.Widget, input_widget: w.Widget):
        self.widget, self.input = box, input_widget

    def value(self) -> list[Any]:
        return list(self.input.value)
