"""The OpenAPI description: valid, complete, generated from the route table."""

from __future__ import annotations

from openapi_spec_validator import validate

from jupyter_opensink.api import ROUTES


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
