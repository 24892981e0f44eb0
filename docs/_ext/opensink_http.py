"""The ``opensink-http`` directive: the HTTP reference, rendered from the server's own OpenAPI description.

The description is built from the route table (``jupyter_opensink.surfaces.ROUTES``) with the same function
the server answers ``GET /v1/openapi.json`` with, so this page shows exactly what the server serves: one
section per operation, grouped by tag in the route table's order, with who may call it, its parameters,
its request body's fields (required ones marked), its headers and its response codes. The schemas that
request bodies refer to follow in their own sections, and the headers once, at the end.

An operation without a summary is a build warning (an error under ``-W``).
"""

from __future__ import annotations

import json
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: The two credentials every non-public route takes; any other scheme is a route's own, named in addition.
API_KEY, JUPYTER_USER = "apiKey", "jupyterUser"
Spec = dict[str, Any]


def openapi() -> Spec:
    from jupyter_opensink import surfaces
    from jupyter_opensink.api.openapi import build_openapi

    return build_openapi(surfaces.ROUTES)


def schema_id(name: str) -> str:
    return nodes.make_id(f"schema-{name}")


def ref_name(schema: Spec) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def text(value: str) -> nodes.Text:
    return nodes.Text(value)


def literal(value: str) -> nodes.literal:
    return nodes.literal(text=value)


def para(*children: nodes.Node, classes: list[str] | None = None) -> nodes.paragraph:
    return nodes.paragraph("", "", *children, classes=classes or [])


def counted(number: int | float, unit: str) -> str:
    """``3 characters``, ``1 character``; a bare number without a unit."""
    return f"{number} {unit}{'' if number == 1 else 's'}" if unit else str(number)


def joined(parts: list[list[nodes.Node]], separator: str) -> list[nodes.Node]:
    out: list[nodes.Node] = []
    for i, part in enumerate(parts):
        if i:
            out.append(text(separator))
        out.extend(part)
    return out


class Renderer:
    """Turns the description's JSON Schema fragments into docutils nodes; remembers which component
    schemas it referred to, so the page can document them too."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.schemas: Spec = spec["components"]["schemas"]
        self.referred: list[str] = []

    # -- types ------------------------------------------------------------------------------------------
    def type_of(self, schema: Spec) -> list[nodes.Node]:
        name = ref_name(schema)
        if name:
            if name not in self.referred:
                self.referred.append(name)
            return [nodes.reference("", "", literal(name), internal=True, refid=schema_id(name))]
        for combinator in ("anyOf", "oneOf"):
            if combinator in schema:
                options = [option for option in schema[combinator] if option.get("type") != "null"]
                parts = [self.type_of(option) for option in options]
                if len(options) < len(schema[combinator]):
                    parts.append([text("null")])
                return joined(parts, " or ")
        if "enum" in schema:
            return [text("one of "), *joined([[literal(json.dumps(v))] for v in schema["enum"]], ", ")]
        if "const" in schema:
            return [literal(json.dumps(schema["const"]))]
        kind = schema.get("type")
        if isinstance(kind, list):
            return [text(" or ".join(kind))]
        if kind == "array":
            return [text("array of "), *self.type_of(schema.get("items", {}))]
        if kind == "object":
            values = schema.get("additionalProperties")
            if not isinstance(values, dict):
                values = next(iter(schema.get("patternProperties", {}).values()), None)
            if isinstance(values, dict):
                return [text("object of "), *self.type_of(values)]
            return [text("object")]
        if kind is None:
            return [text("any JSON value")]
        return [text(f"{kind} ({schema['format']})" if "format" in schema else kind)]

    @staticmethod
    def limits(schema: Spec) -> list[list[nodes.Node]]:
        """Lengths, bounds, item counts and patterns (of each non-null option), one part each."""
        parts: list[list[nodes.Node]] = []
        options = [o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"]
        for option in options:
            for low, high, unit in (("minLength", "maxLength", "character"), ("minimum", "maximum", ""),
                                    ("minItems", "maxItems", "item")):
                lo, hi = option.get(low), option.get(high)
                if lo is not None and hi is not None:
                    parts.append([text(f"{lo} to {counted(hi, unit)}")])
                elif lo is not None:
                    parts.append([text(f"at least {counted(lo, unit)}")])
                elif hi is not None:
                    parts.append([text(f"at most {counted(hi, unit)}")])
            if "pattern" in option:
                parts.append([text("matching "), literal(option["pattern"])])
        return parts

    def type_cell(self, schema: Spec) -> list[nodes.Node]:
        parts = [self.type_of(schema), *self.limits(schema)]
        if "default" in schema:
            parts.append([text("default "), literal(json.dumps(schema["default"]))])
        return joined(parts, "; ")

    # -- tables -----------------------------------------------------------------------------------------
    @staticmethod
    def table(headers: list[str], rows: list[list[list[nodes.Node]]], widths: list[int],
              classes: list[str]) -> nodes.table:
        table = nodes.table(classes=classes)
        group = nodes.tgroup(cols=len(headers))
        table += group
        for width in widths:
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += nodes.row("", *(nodes.entry("", para(text(h))) for h in headers))
        group += head
        body = nodes.tbody()
        for cells in rows:
            body += nodes.row("", *(nodes.entry("", para(*cell)) for cell in cells))
        group += body
        return table

    def fields_table(self, schema: Spec) -> nodes.Node:
        """A request body's or a schema's fields; the required ones marked."""
        properties: Spec = schema.get("properties", {})
        if not properties:
            return para(text(schema.get("description") or "Any JSON object."))
        required = set(schema.get("required", ()))
        rows = []
        for name, field in properties.items():
            name_cell: list[nodes.Node] = [literal(name)]
            if name in required:
                name_cell += [text(" "), nodes.strong(text="required", classes=["opensink-required"])]
            rows.append([name_cell, self.type_cell(field), [text(field.get("description", ""))]])
        return self.table(["field", "type", "description"], rows, [20, 40, 40], ["opensink-fields"])

    def parameters_table(self, parameters: list[Spec]) -> nodes.table:
        rows = []
        for parameter in parameters:
            name_cell: list[nodes.Node] = [literal(parameter["name"])]
            if parameter.get("required"):
                name_cell += [text(" "), nodes.strong(text="required", classes=["opensink-required"])]
            rows.append([name_cell, self.type_cell(parameter.get("schema", {})),
                         [text(parameter.get("description", ""))]])
        return self.table(["parameter", "type", "description"], rows, [20, 40, 40], ["opensink-parameters"])

    # -- who may call -----------------------------------------------------------------------------------
    def callers(self, operation: Spec) -> list[nodes.Node]:
        schemes = [name for requirement in operation.get("security", []) for name in requirement]
        if not schemes:
            return [text("anyone: no credential")]
        scope = operation.get("x-required-scope")
        if API_KEY not in schemes:
            parts = [[text("the Jupyter user only (API keys get 403)")]]
        elif scope:
            parts = [[text("an API key with the "), literal(scope), text(" scope")],
                     [text("the Jupyter user")]]
        else:
            parts = [[text("any API key (whatever its scopes)")], [text("the Jupyter user")]]
        known = self.spec["components"]["securitySchemes"]
        for name in schemes:
            if name not in (API_KEY, JUPYTER_USER):
                header = known[name].get("name", name)
                parts.append([text("the "), literal(header), text(" header")])
        return joined(parts, ", or ")


class HttpReference(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        spec = openapi()
        render = Renderer(spec)
        base = spec["servers"][0]["url"]
        by_tag: dict[str, list[tuple[str, str, Spec]]] = {}
        for path, item in spec["paths"].items():  # in the route table's order
            for method, operation in item.items():
                tag = (operation.get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append((method.upper(), base + path, operation))
        sections = []
        for tag, operations in by_tag.items():
            section = nodes.section(ids=[nodes.make_id(f"api-{tag}")], classes=["opensink-tag"])
            section += nodes.title(text=tag)
            for method, path, operation in operations:
                section += self.operation_section(render, method, path, operation)
            sections.append(section)
        sections.append(self.schemas_section(render))
        sections.append(self.headers_section(render, spec))
        return sections

    def operation_section(self, render: Renderer, method: str, path: str, operation: Spec) -> nodes.section:
        section = nodes.section(ids=[nodes.make_id(f"{method} {path}")], classes=["opensink-operation"])
        section += nodes.title("", "", literal(f"{method} {path}"))
        summary = operation.get("summary", "").strip()
        if not summary:
            logger.warning("%s %s has no summary in the route table: say what it does", method, path,
                           location=self.get_location())
        section += para(text(summary))
        section += para(nodes.strong(text="Who may call: "), *render.callers(operation))

        parameters = operation.get("parameters", [])
        in_path = [p for p in parameters if p["in"] == "path"]
        if in_path:
            section += para(nodes.strong(text="Path parameters: "),
                            *joined([[literal("{" + p["name"] + "}")] for p in in_path], ", "))
        in_query = [p for p in parameters if p["in"] == "query"]
        if in_query:
            section += para(nodes.strong(text="Query parameters:"))
            section += render.parameters_table(in_query)
        headers = [p for p in parameters if p["in"] == "header"]
        if headers:
            section += para(nodes.strong(text="Headers: "), *joined(
                [[nodes.reference("", "", literal(p["name"]), internal=True,
                                  refid=nodes.make_id(f"header-{p['name']}"))] for p in headers], ", "))

        body = operation.get("requestBody")
        if body:
            schema = body["content"]["application/json"]["schema"]
            name = ref_name(schema)
            section += para(nodes.strong(text="Request body"),
                            text(f" (JSON, {name}):" if name else " (JSON):"))
            section += render.fields_table(render.schemas[name] if name else schema)

        responses = nodes.bullet_list(classes=["opensink-responses"])
        for code, response in operation["responses"].items():
            media: Spec = next(iter(response.get("content", {}).values()), {})
            schema = media.get("schema", {})
            model = ref_name(schema)
            item = para(literal(code), text(" " + response["description"]))
            if model and model not in ("Error", response["description"]):
                item += [text(" ("), literal(model), text(")")]
            responses += nodes.list_item("", item)
        section += para(nodes.strong(text="Responses:"))
        section += responses
        return section

    @staticmethod
    def schemas_section(render: Renderer) -> nodes.section:
        """Every schema a request body's field refers to, and those they refer to in turn."""
        section = nodes.section(ids=["request-schemas"])
        section += nodes.title(text="Request schemas")
        section += para(text("The objects that request bodies' fields refer to."))
        done = 0
        while done < len(render.referred):  # documenting one may refer to more: until none is new
            name = render.referred[done]
            done += 1
            schema = render.schemas[name]
            sub = nodes.section(ids=[schema_id(name)], classes=["opensink-schema"])
            sub += nodes.title(text=name)
            if schema.get("description") and schema.get("properties"):
                sub += para(text(schema["description"]))
            sub += render.fields_table(schema)
            section += sub
        return section

    @staticmethod
    def headers_section(render: Renderer, spec: Spec) -> nodes.section:
        """The request headers operations take, each described once."""
        seen: dict[str, Spec] = {}
        for item in spec["paths"].values():
            for operation in item.values():
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "header":
                        seen.setdefault(parameter["name"], parameter)
        section = nodes.section(ids=["request-headers"])
        section += nodes.title(text="Request headers")
        section += para(text("The headers an operation's Headers line names."))
        items = nodes.definition_list()
        for name, parameter in seen.items():
            term = nodes.term("", "", literal(name))
            limits = render.limits(parameter.get("schema", {}))
            described = para(text(parameter.get("description", "")))
            if limits:
                described += [text(" ("), *joined(limits, "; "), text(")")]
            definition = nodes.definition("", described)
            item = nodes.definition_list_item("", term, definition, ids=[nodes.make_id(f"header-{name}")])
            items += item
        section += items
        return section


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("opensink-http", HttpReference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
