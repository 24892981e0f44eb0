"""The shared form cases (tests/fixtures/form-cases.json) through the Python form engine and through the
notebook widget drawn from it; labextension/test/forms.test.mjs runs the same table through the
TypeScript port, so the three surfaces show the same form and send the same JSON."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from jupyter_opensink.forms import FormErrors, FormField, describe, proposed, read

FIXTURES = Path(__file__).parent / "fixtures"
TABLE = json.loads((FIXTURES / "form-cases.json").read_text())
TESTS = [pytest.param(case, test, id=f"{case['description'][:50]} / {test['description'][:50]}")
         for case in TABLE["cases"] for test in case["tests"]]


def neutral(spec: FormField) -> dict[str, Any]:
    """A field in the table's language-neutral shape (see the table's description)."""
    node: dict[str, Any] = {"key": spec.key, "kind": spec.kind, "label": spec.label,
                            "required": spec.required}
    if spec.description is not None:
        node["description"] = spec.description
    if spec.kind == "group":
        node["fields"] = [neutral(sub) for sub in spec.fields]
    elif spec.kind == "fixed":
        if spec.has_value:
            node["value"] = spec.value
    elif spec.kind == "boolean":
        node["initial"] = spec.initial == "on"
    elif spec.kind == "choice":
        node.update(options=spec.options, initial=int(spec.initial) if spec.initial else None)
    else:
        node["initial"] = spec.initial
    if spec.kind == "number":
        node["integer"] = spec.integer
        bounds = (("minimum", spec.minimum), ("maximum", spec.maximum))
        node.update({k: v for k, v in bounds if v is not None})
    if spec.kind == "list":
        node["itemType"] = spec.item_type
    return node


def leaves(spec: FormField, path: str = "") -> dict[str, FormField]:
    """Every drawn field by its path in the table ('a/b'; '' for the top when it is not a group)."""
    if spec.kind != "group":
        return {path: spec}
    found: dict[str, FormField] = {}
    for sub in spec.fields:
        found.update(leaves(sub, f"{path}/{sub.key}" if path else sub.key))
    return found


def schema_of(case: dict[str, Any]) -> Any:
    """The schema every surface draws: with the case's ``defaults`` (a request's proposal) filled in."""
    return proposed(case["schema"], case["defaults"]) if "defaults" in case else case["schema"]


def zone_of(case: dict[str, Any]) -> ZoneInfo:
    return ZoneInfo(case.get("zone", "UTC"))


def posted(spec: FormField, entries: dict[str, Any]) -> dict[str, str]:
    """What a form posts: every field's first content, with the person's entries over it."""
    form: dict[str, str] = {}
    for path, field in leaves(spec).items():
        entry = entries.get(path, field.initial)
        if field.kind == "boolean":
            entry = "on" if entry in (True, "on") else ""
        if entry != "" or field.kind != "boolean":
            form[field.name] = entry
    return form


def by_path(spec: FormField, problems: dict[str, str]) -> dict[str, str]:
    names = {field.name: path for path, field in leaves(spec).items()}
    return {names[name]: message for name, message in problems.items()}


def assert_problems(got: dict[str, str], expected: dict[str, str]) -> None:
    assert set(got) == set(expected), got
    for path, message in expected.items():  # a JSON editor's message may go on with the parser's detail
        assert got[path] == message or got[path].startswith(f"{message} ("), (path, got[path])


def test_the_table_covers_every_schema_feature():
    every = json.loads((FIXTURES / "every-schema-feature.json").read_text())
    assert TABLE["cases"][0]["schema"] == every
    kinds = {field.kind for case in TABLE["cases"]
             for field in leaves(describe(case["schema"], required=True)).values()}
    assert kinds == {"text", "textarea", "boolean", "choice", "date", "datetime", "number", "list", "fixed",
                     "json"}


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["description"][:60] for c in TABLE["cases"]])
def test_the_engine_describes_the_fields(case):
    spec = describe(schema_of(case), required=True, zone=zone_of(case))
    if "top" in case:
        assert neutral(spec) == case["top"]
    else:
        assert spec.kind == "group" and [neutral(sub) for sub in spec.fields] == case["fields"]


@pytest.mark.parametrize(("case", "test"), TESTS)
def test_the_engine_sends_the_json(case, test):
    zone = zone_of(case)
    spec = describe(schema_of(case), required=True, zone=zone)
    form = posted(spec, test["entries"])
    if "json" in test:
        assert read(spec, form, zone=zone) == test["json"]
    else:
        with pytest.raises(FormErrors) as caught:
            read(spec, form, zone=zone)
        assert_problems(by_path(spec, caught.value.problems), test["problems"])


# -- the notebook widget ---------------------------------------------------------------------------

def enter(field, entry: Any, zone: ZoneInfo) -> bool:
    """Puts ``entry`` into the widget the way a person would; False when that widget cannot hold it
    (a date picker holds no words, an integer list input no letters)."""
    from jupyter_opensink.widgets import forms as view

    widget = field.input
    try:
        if isinstance(field, view.Checkbox):
            widget.value = bool(entry)
        elif isinstance(field, view.DateTimeField):
            moment = dt.datetime.fromisoformat(entry) if entry else None
            widget.value = moment if moment is None or moment.tzinfo else moment.replace(tzinfo=zone)
        elif isinstance(field, view.DateField):
            widget.value = dt.date.fromisoformat(entry) if entry else None
        elif isinstance(field, view.ListField):
            lines = [line.strip() for line in entry.splitlines() if line.strip()]
            convert = {"string": str, "integer": int, "number": float}[field.spec.item_type]
            values = [convert(line) for line in lines]
            if not all(isinstance(v, str) or math.isfinite(v) for v in values):
                return False  # the list inputs hold numbers only
            widget.value = values
        else:
            widget.value = entry
    except (ValueError, TypeError):
        return False
    return True


@pytest.mark.parametrize(("case", "test"), TESTS)
def test_the_notebook_widget_sends_the_json(case, test):
    from jupyter_opensink.widgets import build

    form = build(schema_of(case), required=True, top=True)
    fields = {"": form} if form.spec.kind != "group" else {}

    def collect(group, prefix=""):
        for key, field in group.fields.items():
            path = f"{prefix}/{key}" if prefix else key
            if hasattr(field, "fields"):
                collect(field, path)
            else:
                fields[path] = field

    if hasattr(form, "fields"):
        collect(form)
    for path, entry in test["entries"].items():
        if not enter(fields[path], entry, zone_of(case)):
            pytest.skip(f"the widget for {path} cannot hold {entry!r}")
    if "json" in test:
        assert form.value() == test["json"]
    else:
        with pytest.raises(FormErrors) as caught:
            form.value()
        assert_problems(by_path(form.spec, caught.value.problems), test["problems"])
        shown = {path: field.problem.value for path, field in fields.items() if hasattr(field, "problem")}
        assert {path for path, text in shown.items() if text} == set(test["problems"])  # beside each field
