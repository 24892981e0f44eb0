"""What every route shares: JSON bodies, errors, paging, ids and times."""

from __future__ import annotations

import logging

import pytest

from jupyter_opensink import ids


@pytest.fixture
def opensink_config():
    return {"fsync": "never", "max_body_size": 4096}


async def test_malformed_and_non_object_bodies(api):
    """Every case: tests/test_bodies.py; here, that they reach the caller as 400s."""
    for raw, expected in ((b"{not json", "not valid JSON"), (b"[1, 2]", "must be a JSON object")):
        reply = await api("POST", "/v1/workspaces", raw=raw)
        assert reply.status == 400, raw
        assert expected in reply.error, (raw, reply.error)


async def test_unknown_and_wrong_fields_are_named(api):
    reply = await api("POST", "/v1/workspaces", {"name": "a", "owner": "me", "plan": "pro"})
    assert reply.status == 400 and reply.error == "unknown fields: owner, plan"
    reply = await api("POST", "/v1/workspaces", {"name": 5})
    assert reply.status == 400 and reply.error.startswith("name:")
    created = await api("POST", "/v1/workspaces", {"name": "a"})
    reply = await api("PATCH", f"/v1/workspaces/{created.body['id']}", {"name": None})
    assert reply.status == 400 and reply.error.startswith("name:")
    reply = await api("POST", f"/v1/workspaces/{created.body['id']}/rotate-secret", {"force": True})
    assert reply.status == 400 and reply.error == "unknown field: force"


async def test_unknown_route_is_404_json(api):
    for path in ("/v1/nothing-here", "/v1/workspaces/a/b/c", "/v2/sinks", ""):
        reply = await api("GET", path)
        assert reply.status == 404, path
        assert "no such route" in reply.error


async def test_unknown_route_still_needs_a_credential(api):
    assert (await api("GET", "/v1/nothing-here", auth=None)).status == 401


async def test_wrong_method_is_405_with_allow(api):
    reply = await api("PUT", "/v1/workspaces", {"name": "x"})
    assert reply.status == 405 and "PUT is not allowed" in reply.error
    assert reply.headers["Allow"] == "GET, POST"
    reply = await api("DELETE", "/v1/workspaces/some-id")
    assert reply.status == 405


async def test_body_over_the_limit_is_413(api):
    reply = await api("POST", "/v1/workspaces", raw=b'{"name": "' + b"x" * 5000 + b'"}')
    assert reply.status == 413 and "larger than 4096 bytes" in reply.error
    ok = await api("POST", "/v1/workspaces", {"name": "x" * 200})
    assert ok.status == 201


async def test_unexpected_failure_is_500_revealing_nothing(api, opensink_app, monkeypatch, caplog):
    async def broken(*args, **kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(opensink_app.services.workspaces, "create", broken)
    with caplog.at_level(logging.ERROR):
        reply = await api("POST", "/v1/workspaces", {"name": "x"})
    assert reply.status == 500 and reply.body == {"error": "internal server error"}
    assert "secret internals" in caplog.text  # the traceback is logged for the operator


async def test_ids_and_times(api):
    reply = await api("POST", "/v1/workspaces", {"name": "a"})
    assert reply.status == 201
    assert ids.UUID7_RE.match(reply.body["id"])
    assert reply.body["created_at"].endswith("Z") and len(reply.body["created_at"]) == 24
    assert reply.body["execution_secret"].startswith("whsec_")


async def test_default_workspace_exists_and_secrets_rotate(api):
    listed = await api("GET", "/v1/workspaces")
    assert listed.status == 200
    defaults = [w for w in listed.body["items"] if w["is_default"]]
    assert len(defaults) == 1
    ws = defaults[0]
    rotated = await api("POST", f"/v1/workspaces/{ws['id']}/rotate-secret")
    assert rotated.status == 200 and rotated.body["execution_secret"] != ws["execution_secret"]
    renamed = await api("PATCH", f"/v1/workspaces/{ws['id']}", {"name": "Mine"})
    assert renamed.body["name"] == "Mine" and renamed.body["execution_secret"] == rotated.body["execution_secret"]
    assert (await api("GET", f"/v1/workspaces/{ws['id']}")).body == renamed.body
    assert (await api("GET", "/v1/workspaces/missing")).status == 404


async def test_paging_rules(api):
    for params, expected in (({"$limit": "0"}, "$limit"), ({"$trail": "garbage!!"}, "$trail")):  # all: test_bodies
        reply = await api("GET", "/v1/workspaces", params=params)
        assert reply.status == 400 and expected in reply.error, (params, reply.body)
    first = await api("GET", "/v1/workspaces", params={"$limit": "1"})
    await api("POST", "/v1/workspaces", {"name": "another"})
    first = await api("GET", "/v1/workspaces", params={"$limit": "1"})
    assert first.body["trail"]
    reply = await api("GET", "/v1/workspaces", params={"$trail": first.body["trail"], "$order": "asc"})
    assert reply.status == 400 and "other $order" in reply.error


@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_paging_while_writing_never_skips_or_repeats(api, order):
    for i in range(20):
        await api("POST", "/v1/workspaces", {"name": f"w{i}"})
    everything = (await api("GET", "/v1/workspaces", params={"$limit": "500", "$order": order})).body["items"]
    seen, trail = [], None
    while True:
        params = {"$limit": "6", "$order": order}
        if trail:
            params["$trail"] = trail
        page = await api("GET", "/v1/workspaces", params=params)
        assert page.status == 200
        seen.extend(w["id"] for w in page.body["items"])
        await api("POST", "/v1/workspaces", {"name": "written while paging"})
        trail = page.body["trail"]
        if trail is None:
            break
    expected = [w["id"] for w in everything]
    if order == "desc":
        assert seen == expected  # newer writes appear above the first page, never inside the walk
    else:
        assert seen[:len(expected)] == expected and len(seen) == len(set(seen))
