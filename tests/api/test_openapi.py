"""The OpenAPI description: valid, complete, generated from the route table."""

from __future__ import annotations

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from jupyter_opensink.surfaces import ROUTES
from jupyter_opensink.api.routing import Route

from . import walk
from .conftest import store_independent


@store_independent  # the description comes from the route table, whichever store is behind it
async def test_description_is_valid_and_lists_every_route(api, make_key):
    key = await make_key(scopes=["sinks:read"])
    reply = await api("GET", "/v1/openapi.json", key=key)  # any valid credential
    assert reply.status == 200
    spec = reply.body
    validate(spec)
    assert spec["openapi"] == "3.1.0" and spec["servers"] == [{"url": "/a%40b/opensink"}]
    described = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    declared = {(r.method, r.base.removeprefix("/opensink") + r.path) for r in ROUTES}
    assert described == declared and len(declared) == len(ROUTES)
    create_item = spec["paths"]["/api/v1/sink-items"]["post"]
    body = spec["components"]["schemas"]["ItemCreate"]
    assert create_item["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ItemCreate")
    assert set(body["required"]) == {"title", "sink_id"} and body["additionalProperties"] is False
    assert create_item["x-required-scope"] == "sink_items:write" and "400" in create_item["responses"]
    listing = spec["paths"]["/api/v1/sink-items"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"sink_id", "q", "$limit", "$trail", "$order"}
    assert spec["paths"]["/api/v1/sinks/{sink_id}/items"]["post"]["security"][-1] == {"sinkSecret": []}
    assert spec["paths"]["/public/{slug}"]["get"]["security"] == []
    assert (await api("GET", "/v1/openapi.json", auth=None)).status == 401


def reply_schema(spec: dict, route, status: int) -> dict:
    path = route.base.removeprefix("/opensink") + route.path
    response = spec["paths"][path][route.method.lower()]["responses"][str(status)]
    return {**response["content"]["application/json"]["schema"], "components": spec["components"]}


def dropped(raw, shaped) -> set[str]:
    """Keys the reply model left out of what the endpoint returned (first level of objects and pages)."""
    if isinstance(raw, dict) and isinstance(shaped, dict):
        lost = set(raw) - set(shaped)
        for key in set(raw) & set(shaped):
            if isinstance(raw[key], list) and isinstance(shaped[key], list):
                for a, b in zip(raw[key], shaped[key]):
                    lost |= {f"{key}[].{k}" for k in dropped(a, b)}
            elif isinstance(raw[key], dict) and key in ("sink",):
                lost |= {f"{key}.{k}" for k in dropped(raw[key], shaped[key])}
        return lost
    return set()


async def test_every_operation_replies_as_described(api, objects, monkeypatch, opensink_app):
    """Each route called once with a valid request: its status and its whole body are what the description says.

    (The fuzzer mostly meets unknown ids; this walk makes sure every success reply is checked too.) Nothing an
    endpoint returns is dropped by the reply model: the models declare every field there is.
    """
    lost: dict[str, set[str]] = {}
    render = Route.render

    def watched(route, result, withheld=frozenset()):
        shaped = render(route, result, withheld)
        if dropped(result, shaped):
            lost[walk.name(route)] = dropped(result, shaped)
        return shaped

    monkeypatch.setattr(Route, "render", watched)
    ids = await objects()
    spec = (await api("GET", "/v1/openapi.json")).body
    # Deletions last, in reverse table order: an item goes before its sink, a session before its agent.
    ordered = ([r for r in walk.routes() if r.method != "DELETE"]
               + [r for r in reversed(walk.routes()) if r.method == "DELETE"])
    for route in ordered:
        reply = await api(route.method, walk.url(route, ids), walk.valid_body(route, ids),
                          params=walk.id_filters(route, ids))
        assert reply.status == route.status, (walk.name(route), reply.status, reply.body)
        assert reply.headers["Content-Type"].startswith("application/json")
        await opensink_app.dispatcher.drain()  # a resolve's callback is recorded before deliveries are listed
        validator = Draft202012Validator(reply_schema(spec, route, route.status),
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(reply.body)]
        assert not problems, (walk.name(route), problems, reply.body)
        if route.paged or route.reply_model.__name__.endswith("Page"):
            assert reply.body["items"], (walk.name(route), "a listing of objects that exist is not empty")
    assert not lost, lost
    error = await api("GET", "/v1/sinks/unknown")
    Draft202012Validator(reply_schema(spec, ROUTES[0], 400)).validate(error.body)


def test_every_route_declares_its_reply_and_errors():
    """A route added later gets its reply schema and error statuses from its own declaration."""
    from jupyter_opensink.api.openapi import build_openapi

    spec = build_openapi(ROUTES)
    for route in ROUTES:
        path = route.base.removeprefix("/opensink") + route.path
        responses = spec["paths"][path][route.method.lower()]["responses"]
        ok = responses[str(route.status)]["content"]
        if route.stream:
            assert set(ok) == set(route.reply.media)  # events, MCP's replies, exports written as read
            continue
        target = ok["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert spec["components"]["schemas"][target]["type"] == "object"
        errors = {int(code) for code in responses if int(code) >= 400}
        assert {404, 503} <= errors
        assert ({401, 403} <= errors) == (route.scope != "public")
        assert ({400, 413} <= errors) == (route.body is not None)
        for code in errors:
            assert responses[str(code)]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    schemas = spec["components"]["schemas"]
    assert schemas["SinkPage"]["required"] == ["items", "trail"]
    assert schemas["SinkPage"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Sink"}
    assert schemas["Sink"]["additionalProperties"] is False and "secret" in schemas["Sink"]["required"]
    assert "secret" not in schemas["PublicSinkInfo"]["properties"]
    assert "workspace_id" not in schemas["PublicItem"]["properties"]
    assert "key" in schemas["NewApiKey"]["required"] and "key" not in schemas["ApiKey"]["properties"]
    nullable = schemas["InputRequest"]["properties"]["response"]
    assert {"type": "null"} in nullable["anyOf"] and "response" in schemas["InputRequest"]["required"]


def test_query_parameters_are_described_from_their_models():
    """A route's query model gives each parameter its type, choices, whether it is required and a description;
    a listing's gives paging's parameters too."""
    from jupyter_opensink.api.openapi import build_openapi

    spec = build_openapi(ROUTES)

    def parameter(path: str, name: str) -> dict:
        found = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name and p["in"] == "query"]
        assert len(found) == 1, (path, name)
        return found[0]

    status = parameter("/api/v1/agent-sessions", "status")
    assert "completed" in status["schema"]["enum"] and status["description"] and not status.get("required")
    agent = parameter("/api/v1/agent-configurations/variants", "agent_id")
    assert agent["required"] is True and agent["schema"]["type"] == "string"
    assert parameter("/api/v1/sink-items", "occurred_after")["schema"] == {"type": "string", "format": "date-time"}
    for route in ROUTES:  # every declared parameter is described, nothing else is
        if route.query is not None and route.method == "GET":
            path = route.base.removeprefix("/opensink") + route.path
            described = {p["name"] for p in spec["paths"][path]["get"]["parameters"] if p["in"] == "query"}
            declared = {info.alias or name for name, info in route.query.model_fields.items()}
            assert declared == described, path
            assert all(parameter(path, name).get("description") for name in declared), path
    # Paging's parameters come from the query model a listing's route adds, as its filters do.
    listings = [route for route in ROUTES if route.paged]
    assert len(listings) >= 15
    for route in listings:
        path = route.base.removeprefix("/opensink") + route.path
        assert parameter(path, "$limit")["schema"] == {"type": "integer", "minimum": 1, "maximum": 500,
                                                       "default": 50}
        assert parameter(path, "$order")["schema"] == {"type": "string", "enum": ["desc", "asc"], "default": "desc"}
        assert parameter(path, "$trail")["schema"] == {"type": "string"}
        assert "400" in spec["paths"][path]["get"]["responses"], path
    for route in ROUTES:
        if not route.paged and route.method == "GET":
            path = route.base.removeprefix("/opensink") + route.path
            assert not {"$limit", "$order", "$trail"} & {p["name"] for p in spec["paths"][path]["get"]["parameters"]}


async def test_a_bad_query_parameter_is_a_400_naming_it(api):
    for path, params, name in (("/v1/agent-sessions", {"status": "paused"}, "status"),
                               ("/v1/sink-items", {"occurred_after": "soon"}, "occurred_after"),
                               ("/v1/agent-configurations/variants", {}, "agent_id")):
        reply = await api("GET", path, params=params)
        assert reply.status == 400 and reply.error.startswith(name), (path, reply.body)
