"""/v1/states: the routes, headers, shapes, scopes and workspaces (the rules: tests/services/test_states.py)."""

from __future__ import annotations


async def test_write_read_list_delete(api, make_key):
    key = await make_key(scopes=["states:all"])
    first = await api("PUT", "/v1/states/trader/portfolio", {"value": {"cash": 100}}, key=key)
    assert first.status == 201 and first.body["version"] == 1 and first.body["value"] == {"cash": 100}
    assert set(first.body) == {"id", "workspace_id", "namespace", "key", "value", "version", "expires_at",
                               "created_at", "updated_at"}
    second = await api("PUT", "/v1/states/trader/portfolio", {"value": [1, "two", None]}, key=key)
    assert second.status == 200 and second.body["version"] == 2 and second.body["id"] == first.body["id"]
    assert (await api("GET", "/v1/states/trader/portfolio", key=key)).body["value"] == [1, "two", None]
    for name in ("orders-1", "orders-2", "notes"):
        await api("PUT", f"/v1/states/trader/{name}", {"value": name}, key=key)
    listed = await api("GET", "/v1/states/trader", key=key, params={"prefix": "orders-"})
    assert sorted(s["key"] for s in listed.body["items"]) == ["orders-1", "orders-2"]
    page = await api("GET", "/v1/states/trader", key=key, params={"$limit": 2})
    rest = await api("GET", "/v1/states/trader", key=key, params={"$limit": 2, "$trail": page.body["trail"]})
    assert len({s["key"] for s in page.body["items"] + rest.body["items"]}) == 4
    assert (await api("GET", "/v1/states/other", key=key)).body["items"] == []
    gone = await api("DELETE", "/v1/states/trader/notes", key=key)
    assert gone.status == 200 and gone.body["key"] == "notes"
    assert (await api("GET", "/v1/states/trader/notes", key=key)).status == 404
    assert (await api("DELETE", "/v1/states/trader/notes", key=key)).status == 404


async def test_condition_headers_reach_the_rules(api):
    """The version rules are in tests/services/test_states.py; here, the headers that carry them."""
    made = await api("PUT", "/v1/states/ns/k", {"value": 1}, headers={"If-None-Match": "*"})
    assert made.status == 201
    again = await api("PUT", "/v1/states/ns/k", {"value": 2}, headers={"If-None-Match": "*"})
    assert again.status == 412 and "already exists" in again.error
    ok = await api("PUT", "/v1/states/ns/k", {"value": 3}, headers={"If-Match": '"1"'})
    assert ok.status == 200 and ok.body["version"] == 2
    assert (await api("DELETE", "/v1/states/ns/k", headers={"If-Match": "1"})).status == 412
    assert (await api("PUT", "/v1/states/ns/k", {"value": 1}, headers={"If-Match": "abc"})).status == 400
    assert (await api("DELETE", "/v1/states/ns/k", headers={"If-Match": "2"})).status == 200


async def test_bad_input(api, make_key):
    assert (await api("PUT", "/v1/states/ns/k", {"value": 1, "extra": 2})).status == 400
    assert (await api("PUT", "/v1/states/ns/k", {})).status == 400  # value is required (null is a value)
    assert (await api("PUT", "/v1/states/ns/k", {"value": None})).status == 201
    assert (await api("PUT", "/v1/states/bad%20name/k", {"value": 1})).status == 400
    assert (await api("PUT", "/v1/states/ns/" + "k" * 256, {"value": 1})).status == 400
    past = await api("PUT", "/v1/states/ns/k", {"value": 1, "expires_at": "2020-01-01T00:00:00Z"})
    assert past.status == 400 and "expires_at" in past.error
    reader = await make_key(scopes=["states:read"])
    refused = await api("PUT", "/v1/states/ns/k", {"value": 1}, key=reader)
    assert refused.status == 403 and "states:write" in refused.error
    assert (await api("GET", "/v1/states/ns/k", key=reader)).status == 200


async def test_states_are_per_workspace(api, make_key):
    await api("PUT", "/v1/states/ns/secret", {"value": "mine"})
    workspace = (await api("POST", "/v1/workspaces", {"name": "other"})).body
    other = await make_key(workspace_id=workspace["id"])
    assert (await api("GET", "/v1/states/ns/secret", key=other)).status == 404
    assert (await api("GET", "/v1/states/ns", key=other)).body["items"] == []
    assert (await api("PUT", "/v1/states/ns/secret", {"value": "theirs"}, key=other)).body["version"] == 1
    assert (await api("GET", "/v1/states/ns/secret")).body["value"] == "mine"


async def test_nan_and_infinity_are_refused_not_stored_as_null(api):
    """Pydantic's JSON parser reads NaN and Infinity, which were then stored as null."""
    for raw, word in ((b'{"value": NaN}', "NaN"), (b'{"value": [1, Infinity]}', "Infinity"),
                      (b'{"value": {"a": -Infinity}}', "Infinity"), (b'{"value": 1e999}', "infinity")):
        reply = await api("PUT", "/v1/states/ns/k", raw=raw)
        assert reply.status == 400, (raw, reply.body)
        assert "not standard JSON" in reply.error and word in reply.error, (raw, reply.error)
    assert (await api("GET", "/v1/states/ns/k")).status == 404  # nothing was stored
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    item = await api("POST", "/v1/sink-items", raw=b'{"sink_id": "%s", "title": "t", "fields": {"x": NaN}}'
                     % sink["id"].encode())
    assert item.status == 400 and "NaN is not a JSON number (line 1 column" in item.error
    fine = await api("PUT", "/v1/states/ns/k", raw=b'{"value": [1.5e300, -0.0, "NaN"]}')
    assert fine.status == 201 and fine.body["value"] == [1.5e300, -0.0, "NaN"]


async def test_a_name_with_a_trailing_newline_is_refused(api):
    """The name pattern ended in ``$``, which also matches before a final newline."""
    for path in ("/v1/states/ns/key%0A", "/v1/states/ns%0A/key"):
        reply = await api("PUT", path, {"value": 1})
        assert reply.status == 400 and "1 to 255 characters" in reply.error, (path, reply.body)
    assert (await api("GET", "/v1/states/ns", params={"prefix": ""})).body["items"] == []
