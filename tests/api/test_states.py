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
