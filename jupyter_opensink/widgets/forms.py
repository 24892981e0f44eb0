"""The form engine's field tree (``jupyter_opensink.forms``) drawn as ipywidgets, read back through it.

Each ``Field`` owns its widget and says what it holds as the text an HTML form would post
(``entries``), so the engine reads the notebook's answer exactly as it reads the approval page's.
A number is a text input: ipywidgets' numeric inputs cannot be empty, and a form must not send a
value the person did not choose. What the engine cannot draw (``oneOf``, ``$ref``, arrays of
objects...) is a JSON editor.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import ipywidgets as w

from ..forms import FormErrors, FormField, describe, read

#: ipywidgets' list inputs by the type of the array's items.
LIST_INPUTS = {"string": w.TagsInput, "number": w.FloatsInput, "integer": w.IntsInput}


def _help(spec: FormField) -> w.HTML | None:
    return w.HTML(f"<small>{html.escape(spec.description)}</small>") if spec.description else None


class Field:
    """One node of the tree: ``widget`` shows it, ``entries`` is what it holds (control name -> text)."""

    spec: FormField
    widget: w.Widget

    def entries(self) -> dict[str, str]:
        return {}

    def show_problems(self, problems: dict[str, str]) -> None:
        """Puts each message of ``problems`` (by control name) beside its field; clears the others."""

    def value(self) -> Any:
        """The JSON value, read by the engine; ``FormErrors`` (a ValueError) when an entry is unusable
        or a required one is empty, each message also shown beside its field."""
        try:
            got = read(self.spec, self.entries())
        except FormErrors as exc:
            self.show_problems(exc.problems)
            raise
        self.show_problems({})
        return got


class Leaf(Field):
    """A field with one input (``input``), shown with its description and a place for its problem."""

    def __init__(self, spec: FormField, input_widget: w.Widget, shown: w.Widget | None = None):
        self.spec, self.input = spec, input_widget
        self.problem = w.HTML()
        help_ = _help(spec)
        self.widget = w.VBox([shown or input_widget, *([help_] if help_ else []), self.problem])

    def raw(self) -> str:
        value = self.input.value
        return "" if value is None else str(value)

    def entries(self) -> dict[str, str]:
        return {self.spec.name: self.raw()}

    def show_problems(self, problems: dict[str, str]) -> None:
        message = problems.get(self.spec.name)
        self.problem.value = f"<span style='color:#b00'>⚠ {html.escape(message)}</span>" if message else ""


class Simple(Leaf):
    """Text, a text area, a number as text, a dropdown: the input's value is the entry."""


class Checkbox(Simple):
    """Posted as an HTML form posts a checkbox: present ("on") when ticked, absent otherwise."""

    def entries(self) -> dict[str, str]:
        return {self.spec.name: "on"} if self.input.value else {}


class DateField(Simple):
    """A date picker: empty until a date is picked."""

    def raw(self) -> str:
        return self.input.value.isoformat() if self.input.value else ""


class DateTimeField(DateField):
    """A date-time picker: the browser shows and takes the person's local time; the value carries its
    offset, so the engine sends it in UTC."""


class ListField(Leaf):
    """An array of strings or numbers: a tags-style input, one entry per tag."""

    def raw(self) -> str:
        return "\n".join(str(v) for v in self.input.value)


class JsonEditor(Simple):
    """The fallback: raw JSON, checked when read."""


class Fixed(Field):
    """``const`` or ``readOnly``: shown, not editable, sent by the engine when it has a value."""

    def __init__(self, spec: FormField):
        self.spec = spec
        shown = f"<code>{html.escape(spec.shown_value)}</code>" if spec.has_value else "<i>not set</i>"
        self.widget = w.HTML(f"<b>{html.escape(spec.label)}</b>: {shown}")


class Group(Field):
    """An object: a titled box of its properties (the request's own object unboxed)."""

    def __init__(self, spec: FormField, top: bool = False):
        self.spec = spec
        self.fields = {sub.key: view(sub) for sub in spec.fields}
        children: list[w.Widget] = []
        if not top and spec.title:
            children.append(w.HTML(f"<b>{html.escape(spec.label)}</b>"))
        if not top and (help_ := _help(spec)):
            children.append(help_)
        children.extend(field.widget for field in self.fields.values())
        layout = w.Layout(border="" if top else "1px solid #ddd", padding="0" if top else "4px", margin="2px 0")
        self.widget = w.VBox(children, layout=layout)

    def entries(self) -> dict[str, str]:
        return {name: text for field in self.fields.values() for name, text in field.entries().items()}

    def show_problems(self, problems: dict[str, str]) -> None:
        for field in self.fields.values():
            field.show_problems(problems)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _moment(text: str) -> dt.datetime | None:
    """The engine's initial wall time (UTC: ``describe`` is given no zone) as an aware datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc) if text else None


def _list_value(spec: FormField) -> list[Any]:
    lines = [line for line in spec.initial.splitlines() if line.strip()]
    if spec.item_type == "string":
        return lines
    convert = int if spec.item_type == "integer" else float
    try:
        return [convert(float(line)) for line in lines]
    except ValueError:
        return []


def _number_hint(spec: FormField) -> str:
    kind = "a whole number" if spec.integer else "a number"
    low, high = spec.minimum, spec.maximum
    if low is not None and high is not None:
        return f"{kind} from {low:g} to {high:g}"
    if low is not None:
        return f"{kind}, at least {low:g}"
    if high is not None:
        return f"{kind}, at most {high:g}"
    return kind


def view(spec: FormField, top: bool = False) -> Field:
    """The widgets for one node of the engine's tree."""
    label = spec.label
    if spec.kind == "group":
        return Group(spec, top=top)
    if spec.kind == "fixed":
        return Fixed(spec)
    if spec.kind == "boolean":
        return Checkbox(spec, w.Checkbox(value=spec.initial == "on", description=label, indent=False))
    if spec.kind == "choice":
        options = [("—", "")] + [(str(option), str(i)) for i, option in enumerate(spec.options)]
        return Simple(spec, w.Dropdown(options=options, value=spec.initial, description=label))
    if spec.kind == "date":
        return DateField(spec, w.DatePicker(value=_date(spec.initial), description=label))
    if spec.kind == "datetime":
        return DateTimeField(spec, w.DatetimePicker(value=_moment(spec.initial), description=label))
    if spec.kind == "number":
        return Simple(spec, w.Text(value=spec.initial, description=label, placeholder=_number_hint(spec)))
    if spec.kind == "list":
        widget = LIST_INPUTS[spec.item_type](value=_list_value(spec), allow_duplicates=True)
        return ListField(spec, widget, w.VBox([w.HTML(html.escape(label)), widget]))
    if spec.kind == "json":
        return JsonEditor(spec, w.Textarea(value=spec.initial, description=label, placeholder="JSON",
                                           layout=w.Layout(width="95%", height="6em")))
    text = w.Textarea if spec.kind == "textarea" else w.Text
    return Simple(spec, text(value=spec.initial, description=label))


def build(schema: Any, name: str = "", required: bool = False, *, top: bool = False) -> Field:
    """The form for ``schema`` (``top``: the request's own object); anything the engine cannot draw
    becomes a JSON editor."""
    return view(describe(schema, name, required), top=top)
