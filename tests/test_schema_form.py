"""The form engine (jupyter_opensink/forms/) as the approval page uses it: the same schemas and answers as
the notebook widget's tests (tests/test_widgets.py) and the labextension's (labextension/test/forms.test.mjs);
the shared case table is run by tests/test_form_cases.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_opensink.forms import FormErrors, describe, read, reject_field, where

FIXTURES = Path(__file__).parent / "fixtures"
EVERYTHING = json.loads((FIXTURES / "every-schema-feature.json").read_text())
TRADE = json.loads((FIXTURES / "trade-approval-schema.json").read_text())


def by_key(group):
    return {f.key: f for f in group.fields}


def leaves(spec):
    return [spec] if spec.kind != "group" else [leaf for sub in spec.fields for leaf in leaves(sub)]


def test_every_schema_feature_gets_the_right_control():
    form = describe(EVERYTHING, required=True)
    assert form.kind == "group"
    f = by_key(form)
    assert (f["name"].kind, f["name"].label, f["name"].description) == ("text", "Your name *", "Who decides")
    assert (f["approved"].kind, f["approved"].initial, f["approved"].label) == ("boolean", "on", "approved *")
    assert f["notes"].kind == "textarea" and f["essay"].kind == "textarea"
    assert (f["color"].kind, f["color"].options, f["color"].initial) == ("choice", ["red", "green"], "1")
    assert (f["day"].kind, f["day"].initial) == ("date", "2026-12-01")
    assert f["at"].kind == "datetime"
    assert (f["count"].kind, f["count"].integer, f["count"].minimum, f["count"].maximum, f["count"].initial) == (
        "number", True, 1, 5, "2")
    assert (f["ratio"].kind, f["ratio"].integer, f["ratio"].maximum, f["ratio"].minimum) == ("number", False, 1.5, None)
    assert (f["tags"].kind, f["tags"].item_type, f["tags"].initial) == ("list", "string", "a")
    assert (f["scores"].kind, f["scores"].item_type) == ("list", "integer")
    assert (f["fixed"].kind, f["fixed"].value) == ("fixed", "v1")
    assert (f["shown"].kind, f["shown"].value) == ("fixed", 3)
    assert (f["nested"].kind, f["nested"].label, f["nested"].description) == ("group", "Nested group", "Inner settings")
    assert by_key(f["nested"])["deep"].kind == "boolean"
    assert f["either"].kind == "json"
    names = [leaf.name for leaf in leaves(form)]
    assert len(names) == len(set(names)) and all(n.startswith("f-") for n in names)


def test_what_cannot_be_drawn_becomes_a_json_editor():
    assert describe({"type": "object"}).kind == "json"
    assert describe({"type": "array", "items": {"type": "object"}}).kind == "json"
    assert describe({"$ref": "#/definitions/x"}).kind == "json"
    assert describe({"allOf": [{"type": "string"}]}).kind == "json"
    assert describe("not a schema").kind == "json"
    assert describe({"type": "array", "items": {"type": "integer"}, "default": [1, 2]}).initial == "1\n2"
    assert describe({"type": "object", "default": {"a": 1}}).initial == '{\n  "a": 1\n}'


def test_a_posted_form_becomes_the_json_answer():
    form = describe(EVERYTHING, required=True)
    f = by_key(form)
    posted = {f["name"].name: "Ada", f["approved"].name: "on", f["color"].name: "0", f["day"].name: "2026-12-24",
              f["at"].name: "2026-12-01T09:30", f["count"].name: "4", f["ratio"].name: "0.25",
              f["tags"].name: "a\n b \n\n", f["scores"].name: "3\n4", f["either"].name: ' {"x": [1]} ',
              by_key(f["nested"])["deep"].name: "on"}
    assert read(form, posted) == {
        "name": "Ada", "approved": True, "color": "red", "day": "2026-12-24", "at": "2026-12-01T09:30:00Z",
        "count": 4, "ratio": 0.25, "tags": ["a", "b"], "scores": [3, 4], "fixed": "v1", "shown": 3,
        "nested": {"deep": True}, "either": {"x": [1]}}
    # Left empty: left out (a checkbox left unticked is false, an empty list is []; an optional object
    # nothing was entered in is left out, in the notebook widget too); a required field left empty
    # blocks the answer with a message beside it.
    with pytest.raises(FormErrors) as caught:
        read(form, {})
    assert caught.value.problems == {f["name"].name: "Your name: required"}
    assert read(form, {f["name"].name: "Ada"}) == {
        "name": "Ada", "approved": False, "scores": [], "tags": [], "fixed": "v1", "shown": 3}


def test_unusable_entries_are_named_per_control():
    form = describe(EVERYTHING, required=True)
    f = by_key(form)
    with pytest.raises(FormErrors) as caught:
        read(form, {f["count"].name: "2.5", f["ratio"].name: "lots", f["scores"].name: "1\nx",
                    f["either"].name: "{nope", f["color"].name: "9", f["at"].name: "soon"})
    problems = caught.value.problems
    assert problems[f["count"].name] == 'count: "2.5" is not a whole number'
    assert problems[f["ratio"].name] == 'ratio: "lots" is not a number'
    assert problems[f["scores"].name] == 'scores: "x" is not a number'
    assert problems[f["either"].name].startswith("either: not valid JSON")
    assert problems[f["color"].name] == "color: pick one of the choices"
    assert problems[f["at"].name] == 'at: "soon" is not a date and time'
    assert read(describe({"type": "number"}), {"f": "1e3"}) == 1000.0
    for not_finite in ("nan", "inf", "-Infinity"):
        with pytest.raises(FormErrors):
            read(describe({"type": "number"}), {"f": not_finite})


def test_the_trade_approval_form_and_its_reject_field():
    form = describe(TRADE, required=True)
    assert reject_field(form) is None  # its approvals are per trade, not one top-level checkbox
    trade_0 = by_key(form)["trade_0"]
    assert where(form, "trade_0/approved") == by_key(trade_0)["approved"].name
    assert where(form, "(root)") is None and where(form, "nope") is None
    simple = describe({"type": "object", "properties": {"approved": {"type": "boolean"}}})
    assert reject_field(simple).key == "approved"


def test_a_read_only_field_without_a_value_is_left_out():
    schema = {"type": "object", "properties": {"id": {"type": "string", "readOnly": True},
                                               "none": {"const": None}, "n": {"type": "integer"}}}
    form = describe(schema, required=True)
    f = by_key(form)
    assert f["id"].kind == "fixed" and not f["id"].has_value and f["none"].has_value
    assert read(form, {f["n"].name: "1"}) == {"none": None, "n": 1}  # an explicit const null is still sent


def test_an_optional_object_left_empty_is_left_out():
    contact = {"type": "object", "required": ["email"], "properties": {
        "email": {"type": "string"}, "urgent": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}},
        "kind": {"const": "person"}, "inner": {"type": "object", "properties": {"x": {"type": "string"}}}}}
    schema = {"type": "object", "required": ["must"], "properties": {
        "contact": contact, "must": {"type": "object", "properties": {"y": {"type": "string"}}}}}
    form = describe(schema, required=True)
    contact_field, must = by_key(form)["contact"], by_key(form)["must"]
    c = by_key(contact_field)
    # Nothing entered (a fixed value is no entry): left out; a required object is still sent.
    assert read(form, {}) == {"must": {}}
    # Anything entered keeps it, with the rest as usual; then its required fields left empty block the
    # answer, each named beside its field.
    with pytest.raises(FormErrors) as caught:
        read(form, {c["urgent"].name: "on"})
    assert caught.value.problems == {c["email"].name: "email: required"}
    assert read(form, {c["urgent"].name: "on", c["email"].name: "a@b.c"}) == {
        "must": {}, "contact": {"email": "a@b.c", "urgent": True, "tags": [], "kind": "person"}}
    inner = read(form, {by_key(c["inner"])["x"].name: "a", c["email"].name: "e"})["contact"]["inner"]
    assert inner == {"x": "a"}
    assert read(form, {c["email"].name: "a@b.c"})["contact"]["email"] == "a@b.c"
    # A checkbox ticked by default and unticked by the person is an entry: "no" is kept.
    ticked = describe({"type": "object", "properties": {"opt": {"type": "object", "properties": {
        "on": {"type": "boolean", "default": True}}}}}, required=True)
    assert read(ticked, {}) == {"opt": {"on": False}}
    assert must.required


def test_the_labextension_keeps_the_shared_form_rules():
    """forms.ts cannot import Python: its copies of the shared values must not drift."""
    import re
    from pathlib import Path

    from jupyter_opensink.forms import rules as form_rules

    source = (Path(__file__).parents[1] / "labextension" / "src" / "forms.ts").read_text()
    assert re.search(r"export const LONG_TEXT = (\d+);", source).group(1) == str(form_rules.LONG_TEXT)


@pytest.mark.parametrize("typed", ['{"x": NaN}', "[Infinity]", "-Infinity", "1e999"])
def test_a_json_entry_must_be_standard_json(typed):
    """NaN and Infinity typed into a JSON field were read, then stored as null."""
    spec = describe({"type": "object"})
    with pytest.raises(FormErrors) as caught:
        read(spec, {"f": typed})
    assert "not valid JSON" in str(caught.value.problems)
    assert read(spec, {"f": '{"x": 1.5}'}) == {"x": 1.5}


def test_the_time_zone_of_a_surface_that_must_ask():
    from datetime import timedelta

    from jupyter_opensink.forms import UTC_OFFSETS, asks_time, offset_zone

    assert offset_zone("+05:30").utcoffset(None) == timedelta(hours=5, minutes=30)
    assert offset_zone("-09:30").utcoffset(None) == -timedelta(hours=9, minutes=30)
    for unknown in (None, "", "+5", "+99:00", "Europe/Berlin"):
        assert offset_zone(unknown).utcoffset(None) == timedelta(0)
    assert "+00:00" in UTC_OFFSETS and "+05:45" in UTC_OFFSETS
    moment = {"type": "string", "format": "date-time"}
    assert asks_time(describe({"properties": {"a": {"properties": {"at": moment}}}}))
    assert not asks_time(describe(TRADE, required=True))
    # A default shown in UTC and left untouched is the same instant whatever zone the entries are read in.
    spec = describe({"type": "string", "format": "date-time", "default": "2026-12-01T18:00:00+01:00"})
    assert spec.initial == "2026-12-01T17:00"
    assert read(spec, {"f": "2026-12-01T17:00"}, zone=offset_zone("+05:30")) == "2026-12-01T17:00:00Z"
    assert read(spec, {"f": "2026-12-01T17:01"}, zone=offset_zone("+05:30")) == "2026-12-01T11:31:00Z"
