"""Domain rules of services.schemas, checked directly: which schemas refer to themselves without end, or
nest too deep."""

from __future__ import annotations

import pytest

from jupyter_opensink.errors import Invalid
from jupyter_opensink.services.schemas import check_schema

ENDLESS = [
    {"$ref": "#"},
    {"allOf": [{"$ref": "#/$defs/x"}], "$defs": {"x": {"anyOf": [{"$ref": "#"}]}}},
    {"if": {"type": "string"}, "then": {"$anchor": "t", "not": {"$ref": "#t"}}},
    {"$defs": {"a": {"oneOf": [{"$ref": "#/$defs/b"}]},
               "b": {"dependentSchemas": {"k": {"$ref": "#/$defs/a"}}}},
     "properties": {"p": {"$ref": "#/$defs/a"}}},
    {"$id": "https://example.invalid/root.json", "$ref": "other.json",
     "$defs": {"o": {"$id": "other.json", "allOf": [{"$ref": "root.json"}]}}},
    {"$defs": {"~/": {"$ref": "#/$defs/~0~1"}}, "$ref": "#/%24defs/~0~1"},
    {"$schema": "http://json-schema.org/draft-07/schema#",
     "definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}}},
    {"$schema": "http://json-schema.org/draft-04/schema#",
     "definitions": {"a": {"id": "#x", "allOf": [{"$ref": "#x"}]}}},
]

FINITE = [
    {"$defs": {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}},
     "$ref": "#/$defs/node"},
    {"type": "array", "items": {"$ref": "#"}},
    {"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}, "b": {"$ref": "#/$defs/x"}},
     "$defs": {"x": {"allOf": [{"$ref": "#/$defs/y"}]}, "y": {"type": "string"}}},
    {"propertyNames": {"$ref": "#/$defs/name"}, "$defs": {"name": {"pattern": "^[a-z]+$"}}},
    # Before 2019-09 a $ref's siblings are ignored, so this allOf is never applied.
    {"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"a": {"type": "string"}},
     "$ref": "#/definitions/a", "allOf": [{"$ref": "#"}]},
    {"$id": "https://example.invalid/a.json", "$defs": {"b": {"$id": "b.json", "$ref": "#/$defs/c",
                                                               "$defs": {"c": {"type": "string"}}}},
     "$ref": "b.json"},
]


@pytest.mark.parametrize("schema", ENDLESS)
def test_a_schema_that_refers_to_itself_without_end_is_refused(schema):
    with pytest.raises(Invalid, match="refers to itself without end"):
        check_schema(schema)


@pytest.mark.parametrize("schema", FINITE)
def test_recursion_through_a_part_of_the_value_or_shared_definitions_is_fine(schema):
    check_schema(schema)


def nested(levels: int) -> dict:
    """An object schema ``levels`` deep (a request body may nest 190 levels)."""
    schema: dict = {"type": "object"}
    for _ in range(levels // 2):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize("object_only", [False, True], ids=["as-a-configuration", "as-an-input-request"])
@pytest.mark.parametrize("schema, expected", [
    pytest.param({"$ref": "#"}, "refers to itself", id="ref-to-the-root"),
    pytest.param({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
                 "refers to itself", id="refs-in-a-cycle"),
    pytest.param({"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}}, "does not resolve",
                 id="ref-to-nowhere"),
    pytest.param(nested(190), "nests deeper than 64 levels", id="190-levels-deep"),
])
def test_schemas_that_would_exhaust_the_stack_are_refused(schema, expected, object_only):
    """Regression: a schema referring to itself was a 500 (RecursionError); refs and nesting are bounded too.
    Configurations and input requests check their schemas alike (the HTTP test sends one of each)."""
    with pytest.raises(Invalid) as refused:
        check_schema(schema, object_only=object_only)
    assert refused.value.message.startswith("schema: ") and expected in refused.value.message


def test_a_schema_stored_under_older_rules_says_why_it_cannot_be_checked():
    from jupyter_opensink.services.schemas import require_valid

    with pytest.raises(Invalid, match=r'response cannot be checked: .*"\(\?=a\)" is not a "regex"'):
        require_valid({"properties": {"a": {"pattern": "(?=a)"}}}, {"a": "a"}, field="response")
