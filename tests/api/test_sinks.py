"""/v1/sinks, /v1/sink-items and the public page, through HTTP."""

from __future__ import annotations

import getpass

import pytest


@pytest.fixture
def new_sink(api):
    async def create(**fields) -> dict:
        reply = await api("POST", "/v1/sinks", {"name": "alerts", **fields})
        assert reply.status == 201, reply.body
        return reply.body

    return create


async def test_sink_lifecycle_and_defaults(api, new_sink):
    sink = await new_sink(description="things to look at")
    assert sink["color"] == "neutral" and sink["is_public"] is False and sink["public_slug"] is None
    assert sink["secret"].startswith("sks_") and sink["description"] == "things to look at"
    assert sink["workspace_id"] and sink["created_at"] == sink["updated_at"]
    assert (await api("GET", f"/v1/sinks/{sink['id']}")).body == sink
    patched = await api("PATCH", f"/v1/sinks/{sink['id']}", {"color": "red", "description": None})
    assert patched.status == 200
    assert patched.body["color"] == "red" and patched.body["description"] is None and patched.body["name"] == "alerts"
    listed = await api("GET", "/v1/sinks")
    assert [s["id"] for s in listed.body["items"]] == [sink["id"]] and listed.body["trail"] is None
    deleted = await api("DELETE", f"/v1/sinks/{sink['id']}")
    assert deleted.status == 200 and deleted.body["id"] == sink["id"]
    assert (await api("GET", f"/v1/sinks/{sink['id']}")).status == 404


async def test_sink_validation(api, new_sink):
    # every body rule: tests/test_bodies.py; here, that it reaches the caller
    reply = await api("POST", "/v1/sinks", {"name": "a", "color": "teal"})
    assert reply.status == 400 and "color:" in reply.error, reply.body
    await new_sink(public_slug="news")
    reply = await api("POST", "/v1/sinks", {"name": "b", "public_slug": "news"})
    assert reply.status == 409 and "public_slug" in reply.error
    other = await new_sink()
    reply = await api("PATCH", f"/v1/sinks/{other['id']}", {"public_slug": "news"})
    assert reply.status == 409
    reply = await api("PATCH", f"/v1/sinks/{other['id']}", {"name": None})
    assert reply.status == 400 and "name" in reply.error


async def test_items_create_both_routes_and_read(api, new_sink):
    sink = await new_sink()
    full = {
        "sink_id": sink["id"], "title": "Price moved", "body": "AAPL +3%", "type": "alert",
        "url": "https://example.com/a", "fields": {"symbol": "AAPL", "change": 3.1, "tags": ["x"]},
        "resources": [{"type": "link", "label": "chart", "url": "https://example.com/chart"}],
        "occurred_at": "2026-11-25T10:00:00+01:00",
    }
    created = await api("POST", "/v1/sink-items", full)
    assert created.status == 201, created.body
    item = created.body
    assert item["occurred_at"] == "2026-11-25T09:00:00.000Z" and item["workspace_id"] == sink["workspace_id"]
    assert item["fields"] == full["fields"] and item["resources"] == full["resources"]
    alias = await api("POST", f"/v1/sinks/{sink['id']}/items", {"title": "via alias"})
    assert alias.status == 201 and alias.body["sink_id"] == sink["id"]
    assert alias.body["occurred_at"] == alias.body["created_at"]  # defaults to the creation time
    assert alias.body["body"] is None and alias.body["fields"] == {} and alias.body["resources"] == []
    assert (await api("GET", f"/v1/sink-items/{item['id']}")).body == item
    # Creation never deduplicates by content.
    again = await api("POST", "/v1/sink-items", full)
    assert again.status == 201 and again.body["id"] != item["id"]


async def test_item_validation(api, new_sink):
    sink = await new_sink()
    base = {"sink_id": sink["id"], "title": "t"}
    reply = await api("POST", "/v1/sink-items", {**base, "title": ""})  # every rule: tests/test_bodies.py
    assert reply.status == 400 and "title:" in reply.error, reply.body
    assert (await api("POST", "/v1/sink-items", {**base, "sink_id": "missing"})).status == 404
    reply = await api("POST", "/v1/sink-items", {**base, "fields": {"huge": 2 ** 70}})
    assert reply.status == 400, reply.body


async def test_item_patch_and_delete(api, new_sink):
    sink, other = await new_sink(), await new_sink(name="other")
    item = (await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "a", "fields": {"x": 1}})).body
    patched = await api("PATCH", f"/v1/sink-items/{item['id']}", {"title": "b", "fields": {"y": 2}})
    assert patched.status == 200 and patched.body["title"] == "b" and patched.body["fields"] == {"y": 2}
    same = await api("PATCH", f"/v1/sink-items/{item['id']}", {"sink_id": sink["id"], "body": "ok"})
    assert same.status == 200 and same.body["body"] == "ok"
    moved = await api("PATCH", f"/v1/sink-items/{item['id']}", {"sink_id": other["id"]})
    assert moved.status == 400 and "sink_id cannot change" in moved.error
    assert (await api("PATCH", f"/v1/sink-items/{item['id']}", {"title": None})).status == 400
    deleted = await api("DELETE", f"/v1/sink-items/{item['id']}")
    assert deleted.status == 200 and deleted.body["title"] == "b"
    assert (await api("GET", f"/v1/sink-items/{item['id']}")).status == 404


async def test_many_is_all_or_nothing(api, new_sink):
    sink = await new_sink()
    good = [{"sink_id": sink["id"], "title": f"t{i}", "fields": {"n": i}} for i in range(5)]
    reply = await api("POST", "/v1/sink-items/many", {"items": good})
    assert reply.status == 200
    assert len(reply.body["created"]) == 5 and reply.body["failed"] == [] and reply.body["invalid"] == []
    bad = [*good, {"sink_id": sink["id"]}, {"sink_id": "missing", "title": "x"}, "not an object"]
    reply = await api("POST", "/v1/sink-items/many", {"items": bad})
    assert reply.status == 200 and reply.body["created"] == []
    invalid = reply.body["invalid"]
    assert [i["item"] for i in invalid] == bad[5:]
    assert invalid[0]["errors"] == ["title is required"]
    assert "not found" in invalid[1]["errors"][0]
    listed = await api("GET", "/v1/sink-items", params={"sink_id": sink["id"], "$limit": "100"})
    assert len(listed.body["items"]) == 5  # nothing from the rejected call
    # Found by the fuzzer: an integer over 64 bits in an item was a 500 (the reply echoes the item).
    reply = await api("POST", "/v1/sink-items/many", raw=b'{"items": [-9223372036854775809, {"sink_id": "x", '
                                                              b'"title": "t", "fields": {"n": 99999999999999999999}}]}')
    assert reply.status == 200 and reply.body["created"] == []
    assert reply.body["invalid"][0]["item"] == -9223372036854775809
    assert "too large" in reply.body["invalid"][1]["errors"][0]
    reply = await api("POST", "/v1/sink-items/many", {"items": []})  # every case: tests/test_bodies.py
    assert reply.status == 400 and reply.error.startswith("items:"), reply.body


async def test_item_filters(api, new_sink):
    a, b = await new_sink(name="a"), await new_sink(name="b")
    items = [
        {"sink_id": a["id"], "title": "Deploy finished", "type": "event", "occurred_at": "2026-01-01T00:00:00Z"},
        {"sink_id": a["id"], "title": "x", "body": "The DEPLOY failed", "type": "alert",
         "occurred_at": "2026-01-02T00:00:00Z"},
        {"sink_id": b["id"], "title": "y", "fields": {"stage": {"name": "Deployment"}}, "type": "alert",
         "occurred_at": "2026-01-03T00:00:00Z"},
        {"sink_id": b["id"], "title": "z", "fields": {"count": 42}, "occurred_at": "2026-01-04T00:00:00Z"},
        {"sink_id": b["id"], "title": "Crème brûlée", "occurred_at": "2026-01-05T00:00:00Z"},
    ]
    made = (await api("POST", "/v1/sink-items/many", {"items": items})).body["created"]

    async def titles(**params) -> list[str]:
        reply = await api("GET", "/v1/sink-items", params=params)
        assert reply.status == 200, reply.body
        return [i["title"] for i in reply.body["items"]]

    assert await titles(sink_id=a["id"]) == ["x", "Deploy finished"]
    assert await titles(type="alert") == ["y", "x"]
    assert await titles(q="deploy") == ["y", "x", "Deploy finished"]  # title, body and nested field values
    assert await titles(q="42") == ["z"]
    assert await titles(q="CRÈME") == ["Crème brûlée"]
    assert await titles(q="sink_id") == []  # keys and ids are not searched
    assert await titles(q="deploy", sink_id=b["id"]) == ["y"]
    assert await titles(occurred_after="2026-01-02T00:00:00Z") == ["Crème brûlée", "z", "y"]
    assert await titles(occurred_before="2026-01-02T00:00:00Z") == ["Deploy finished"]
    assert await titles(occurred_after="2026-01-01T12:00:00+00:00", occurred_before="2026-01-03T12:00:00Z",
                        **{"$order": "asc"}) == ["x", "y"]
    assert len(made) == 5
    reply = await api("GET", "/v1/sink-items", params={"occurred_after": "soon"})
    assert reply.status == 400 and "occurred_after" in reply.error


async def test_delete_sink_deletes_its_items(api, new_sink, opensink_app, monkeypatch):
    from jupyter_opensink.services import cascade
    monkeypatch.setattr(cascade, "CHUNK", 7)  # several chunks
    sink, keep = await new_sink(), await new_sink(name="keep")
    await api("POST", "/v1/sink-items/many",
              {"items": [{"sink_id": sink["id"], "title": str(i)} for i in range(30)]})
    kept = await api("POST", "/v1/sink-items", {"sink_id": keep["id"], "title": "stays"})
    assert (await api("DELETE", f"/v1/sinks/{sink['id']}")).status == 200
    assert await opensink_app.store.count("sink_items", {"sink_id": sink["id"]}) == 0
    assert (await api("GET", f"/v1/sink-items/{kept.body['id']}")).status == 200


async def test_scopes_on_sinks_and_items(api, new_sink, make_key):
    sink = await new_sink()
    reader = await make_key(scopes=["sinks:read", "sink_items:read"])
    writer = await make_key(scopes=["sink_items:write"])
    assert (await api("GET", "/v1/sinks", key=reader)).status == 200
    reply = await api("POST", "/v1/sinks", {"name": "x"}, key=reader)
    assert reply.status == 403 and reply.error == "this API key lacks the scope sinks:write"
    created = await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "t"}, key=writer)
    assert created.status == 201  # a key POST needs no XSRF token
    assert (await api("GET", "/v1/sink-items", key=writer)).status == 403
    assert (await api("GET", f"/v1/sink-items/{created.body['id']}", key=reader)).status == 200


async def test_other_workspace_objects_are_404(api, new_sink, make_key):
    sink = await new_sink()
    item = (await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "t"})).body
    team = (await api("POST", "/v1/workspaces", {"name": "Team"})).body
    key = await make_key(workspace_id=team["id"])
    for method, path, body in (("GET", f"/v1/sinks/{sink['id']}", None), ("PATCH", f"/v1/sinks/{sink['id']}",
                               {"name": "x"}), ("DELETE", f"/v1/sinks/{sink['id']}", None),
                               ("GET", f"/v1/sink-items/{item['id']}", None),
                               ("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "t"}),
                               ("POST", f"/v1/sinks/{sink['id']}/items", {"title": "t"})):
        reply = await api(method, path, body, key=key)
        assert reply.status == 404, (method, path, reply.body)
    assert (await api("GET", "/v1/sinks", key=key)).body["items"] == []
    assert (await api("GET", "/v1/sink-items", key=key)).body["items"] == []


async def test_public_sink_page(api, new_sink, http_server_client, jp_base_url):
    sink = await new_sink(public_slug="status", is_public=True)
    for i in range(60):
        await api("POST", f"/v1/sinks/{sink['id']}/items", {"title": f"update {i}"})

    async def public(slug: str):
        response = await http_server_client.fetch(f"{jp_base_url}opensink/public/{slug}", raise_error=False)
        import json
        return response.code, json.loads(response.body)

    code, page = await public("status")
    assert code == 200
    assert page["sink"]["name"] == "alerts" and "secret" not in page["sink"]
    assert len(page["items"]) == 50 and page["items"][0]["title"] == "update 59"
    assert all("workspace_id" not in i for i in page["items"])
    await api("PATCH", f"/v1/sinks/{sink['id']}", {"is_public": False})
    assert (await public("status"))[0] == 404
    assert (await public("nothing"))[0] == 404
    code, body = await public("status")
    assert body == {"error": "no public sink 'status'"}


async def test_item_created_event_is_emitted(api, new_sink, opensink_app):
    seen = []
    unsubscribe = opensink_app.events.subscribe(seen.append)
    sink = await new_sink()
    item = (await api("POST", "/v1/sink-items", {"sink_id": sink["id"], "title": "t"})).body
    unsubscribe()
    created = [e for e in seen if e.type == "item.created"]
    assert len(created) == 1 and created[0].data == item and created[0].workspace_id == sink["workspace_id"]


async def test_bulk_is_many_with_a_plain_array(api, new_sink, make_key):
    """The hosted API's memory skill sends its items as a bare array: the same batch rules and reply as /many."""
    sink = await new_sink()
    good = [{"sink_id": sink["id"], "title": f"memory {i}", "fields": {"n": i}} for i in range(3)]
    bulk = await api("POST", "/v1/sink-items/bulk", good)
    many = await api("POST", "/v1/sink-items/many", {"items": good})
    assert bulk.status == many.status == 200, bulk.body
    assert [i["title"] for i in bulk.body["created"]] == [i["title"] for i in many.body["created"]] == [
        "memory 0", "memory 1", "memory 2"]
    assert bulk.body["failed"] == bulk.body["invalid"] == []
    assert set(bulk.body["created"][0]) == set(many.body["created"][0])

    # One bad item: none is created, and each bad item is named as /many names it.
    bad = [*good, {"sink_id": sink["id"]}, {"sink_id": "missing", "title": "x"}, 2 ** 70]
    bulk, many = await api("POST", "/v1/sink-items/bulk", bad), await api("POST", "/v1/sink-items/many", {"items": bad})
    assert bulk.status == many.status == 200
    assert bulk.body == many.body and bulk.body["created"] == [] and len(bulk.body["invalid"]) == 3
    listed = await api("GET", "/v1/sink-items", params={"sink_id": sink["id"], "$limit": "100"})
    assert len(listed.body["items"]) == 6  # the two good batches only

    # The same limits: 1 to 1000 items; the body is the array itself.
    for items in ([], [{"sink_id": sink["id"], "title": "t"}] * 1001):
        bulk, many = await api("POST", "/v1/sink-items/bulk", items), await api("POST", "/v1/sink-items/many",
                                                                                 {"items": items})
        assert bulk.status == many.status == 400, bulk.body
        assert bulk.error.startswith("the request body: List should have") and many.error.startswith("items:")
        assert bulk.error.partition(": ")[2] == many.error.partition(": ")[2]
    for body, expected in (({"items": good}, "the request body must be a JSON array"),
                           (None, "the request body must be a JSON array")):
        reply = await api("POST", "/v1/sink-items/bulk", body)
        assert reply.status == 400 and reply.error == expected, reply.body

    # The same scope, and an Idempotency-Key replays it as it does any POST.
    reader = await make_key(scopes=["sink_items:read"])
    reply = await api("POST", "/v1/sink-items/bulk", good, key=reader)
    assert reply.status == 403 and reply.error == "this API key lacks the scope sink_items:write"
    writer = await make_key(scopes=["sink_items:write"])
    once = {"Idempotency-Key": "bulk-once"}
    first = await api("POST", "/v1/sink-items/bulk", good[:1], key=writer, headers=once)
    again = await api("POST", "/v1/sink-items/bulk", good[:1], key=writer, headers=once)
    assert first.status == again.status == 200 and first.body == again.body and len(first.body["created"]) == 1
    assert len((await api("GET", "/v1/sink-items", params={"sink_id": sink["id"], "$limit": "100"})).body["items"]) == 7


async def test_bulk_is_described_as_the_alias_of_many(api):
    paths = (await api("GET", "/v1/openapi.json")).body["paths"]
    bulk, many = paths["/api/v1/sink-items/bulk"]["post"], paths["/api/v1/sink-items/many"]["post"]
    assert bulk["summary"].startswith("Alias of POST /sink-items/many")
    assert bulk["responses"] == many["responses"] and bulk["x-required-scope"] == many["x-required-scope"]
    schemas = (await api("GET", "/v1/openapi.json")).body["components"]["schemas"]
    body = schemas[bulk["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert body["type"] == "array" and (body["minItems"], body["maxItems"]) == (1, 1000)


async def test_a_sink_records_who_created_it(api, new_sink, make_key, opensink_app):
    by_user = await new_sink()
    assert by_user["owner_id"] == getpass.getuser()  # a token login: the account the server runs as
    key = await make_key(scopes=["sinks:all"])
    key_id = (await api("GET", "/v1/discovery", key=key)).body["caller"]["key_id"]
    by_key = (await api("POST", "/v1/sinks", {"name": "the agent's"}, key=key)).body
    assert by_key["owner_id"] == key_id
    assert (await api("GET", f"/v1/sinks/{by_key['id']}")).body["owner_id"] == key_id
    listed = (await api("GET", "/v1/sinks")).body["items"]
    assert {s["id"]: s["owner_id"] for s in listed} == {by_user["id"]: getpass.getuser(), by_key["id"]: key_id}

    # Nobody sets it: not on create, not by PATCH (refused as every field a sink does not take is).
    reply = await api("POST", "/v1/sinks", {"name": "mine", "owner_id": "someone else"})
    assert reply.status == 400 and reply.error == "unknown field: owner_id"
    reply = await api("PATCH", f"/v1/sinks/{by_key['id']}", {"owner_id": "someone else", "color": "red"})
    assert reply.status == 400 and reply.error == "unknown field: owner_id"
    patched = await api("PATCH", f"/v1/sinks/{by_key['id']}", {"color": "red"}, key=key)
    assert patched.body["owner_id"] == key_id and patched.body["color"] == "red"
    deleted = await api("DELETE", f"/v1/sinks/{by_key['id']}")
    assert deleted.body["owner_id"] == key_id


async def test_a_sink_stored_before_owners_were_recorded_has_none(api, opensink_app):
    workspace_id = (await api("GET", "/v1/discovery")).body["workspace"]["id"]
    old = await opensink_app.store.insert("sinks", {  # as a sink was stored before owner_id existed
        "workspace_id": workspace_id, "name": "from before", "description": None, "color": "neutral",
        "is_public": False, "public_slug": None, "secret": "sks_old"})
    got = await api("GET", f"/v1/sinks/{old['id']}")
    assert got.status == 200 and got.body["owner_id"] is None
    assert [s["owner_id"] for s in (await api("GET", "/v1/sinks")).body["items"]] == [None]
    patched = await api("PATCH", f"/v1/sinks/{old['id']}", {"name": "renamed"})
    assert patched.body["owner_id"] is None and patched.body["name"] == "renamed"
    assert (await api("DELETE", f"/v1/sinks/{old['id']}")).body["owner_id"] is None
