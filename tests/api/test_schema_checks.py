"""Schemas are untrusted: checking one, or a value against one, never holds the server.

Each stall measured with the pure-Python validator (seconds, during which every other request waited)
is sent through the real API or approval page; the request must come back quickly, and plain
requests sent meanwhile from another thread must be answered meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import threading
import time

import pytest

from .test_links import open_page, submit

DRAFT4 = "http://json-schema.org/draft-04/schema#"
#: Generous, for a busy machine running the suite on several workers: each case took 6 to 21 s before
#: (the pattern's, doubling per character, would take minutes at 32), and takes milliseconds to a fifth of a
#: second now.
QUICK = 3.0


@pytest.fixture
def meanwhile(jp_http_port, jp_base_url, jp_serverapp):
    """``with meanwhile() as waits:`` plain GETs from another thread, each one's wait in ``waits``."""
    token = jp_serverapp.identity_provider.token
    path = jp_base_url.rstrip("/") + "/opensink/api/v1/agents"

    @contextlib.asynccontextmanager
    async def watch():
        waits: list[float] = []
        stop = threading.Event()

        def run() -> None:
            deadline = time.monotonic() + 60
            for _ in range(2000):  # bounded in count and time
                if stop.is_set() or time.monotonic() > deadline:
                    return
                conn = http.client.HTTPConnection("127.0.0.1", jp_http_port, timeout=30)
                started = time.monotonic()
                try:
                    conn.request("GET", path, headers={"Authorization": f"token {token}"})
                    assert conn.getresponse().status == 200
                finally:
                    conn.close()
                waits.append(time.monotonic() - started)
                stop.wait(0.02)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            for _ in range(200):  # the watcher is answered at least once before the case starts
                if waits:
                    break
                await asyncio.sleep(0.01)
            assert waits, "the plain request was never answered"
            yield waits
        finally:
            stop.set()
            await asyncio.to_thread(thread.join, 10)  # the loop keeps serving its last request meanwhile

    return watch


async def timed(call) -> tuple[float, object]:
    started = time.monotonic()
    reply = await call
    return time.monotonic() - started, reply


@pytest.fixture
def session(api):
    async def make() -> tuple[dict, dict]:
        agent = (await api("POST", "/v1/agents", {"name": "bot"})).body
        return agent, (await api("POST", "/v1/agent-sessions", {"agent_id": agent["id"]})).body

    return make


async def ask(api, agent: dict, session: dict, schema: dict):
    return await api("POST", "/v1/agent-session-input-requests", {
        "session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "t", "message": "m",
        "schema": schema})


async def test_unique_items_over_thousands_of_objects_is_quick(api, session, meanwhile):
    """Was 6.05 s: ``uniqueItems`` over 3,000 distinct objects, in a value resolving a request."""
    agent, made = await session()
    request = (await ask(api, agent, made, {"type": "object", "properties": {
        "rows": {"type": "array", "uniqueItems": True}}})).body
    rows = [{"k": i, "v": [i, str(i)]} for i in range(3000)]
    async with meanwhile() as waits:
        took, reply = await timed(api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
                                      {"response": {"rows": [*rows, rows[0]]}}))
    assert reply.status == 400 and "rows: " in reply.error and "unique" in reply.error, reply.body
    assert took < QUICK and max(waits) < QUICK, (took, waits)


async def test_a_backtracking_pattern_through_an_approval_link_is_quick(api, session, meanwhile, monkeypatch):
    """Was 3.5 s per check (doubling per character) and the page checked twice: now linear, and once."""
    from jupyter_opensink.services import schemas

    compiled = []
    real = schemas._validator
    monkeypatch.setattr(schemas, "_validator", lambda *args: compiled.append(1) or real(*args))
    agent, made = await session()
    request = (await ask(api, agent, made, {"type": "object", "properties": {
        "code": {"type": "string", "title": "Code", "pattern": "^(a+)+$"}}})).body
    link = (await api("POST", f"/v1/agent-session-input-requests/{request['id']}/links", {})).body
    _, cookie, csrf = await open_page(api, link["url"])
    compiled.clear()
    async with meanwhile() as waits:
        took, reply = await timed(submit(api, link["url"], {"_csrf": csrf, "f-0": "a" * 32 + "!"}, headers=cookie))
    assert reply.status == 400 and "Code: does not have the expected form" in reply.body, reply.body
    assert "^(a+)+$" in reply.body
    assert took < QUICK and max(waits) < QUICK, (took, waits)
    assert len(compiled) == 1  # one check per submission (the page and the API share it)
    ok = await submit(api, link["url"], {"_csrf": csrf, "f-0": "a" * 27}, headers=cookie)
    assert ok.status == 200, ok.body
    assert len(compiled) == 2


async def test_a_schema_of_sixty_thousand_subschemas_is_quick_to_store(api, session, meanwhile):
    """Was 8.25 s: ``allOf`` of 60,000 empty schemas, checked when the request was created."""
    agent, made = await session()
    schema = {"type": "object", "allOf": [{} for _ in range(60000)]}
    async with meanwhile() as waits:
        took, reply = await timed(ask(api, agent, made, schema))
    assert reply.status == 201, reply.body
    assert took < QUICK and max(waits) < QUICK, (took, waits)


async def test_a_draft4_enum_of_thousands_of_objects_is_quick(api, session, meanwhile):
    """Was 6.0 s: a draft-04 ``enum`` of 3,000 objects, checked against a configuration value."""
    agent, _ = await session()
    schema = {"$schema": DRAFT4, "type": "object",
              "properties": {"pick": {"enum": [{"k": i, "v": [i, str(i)]} for i in range(3000)]}}}
    async with meanwhile() as waits:
        took, reply = await timed(api("POST", "/v1/agent-configurations", {
            "agent_id": agent["id"], "schema": schema, "value": {"pick": {"k": -1}}}))
    assert took < QUICK and max(waits) < QUICK, (took, waits)
    assert reply.status == 400 and "pick: must be one of the 3000 choices offered" in reply.error, reply.body
    assert len(reply.error) < 1000  # the 3,000 candidates are not all listed back
    ok = await api("POST", "/v1/agent-configurations", {"agent_id": agent["id"], "schema": schema,
                                                          "value": {"pick": {"k": 2999, "v": [2999, "2999"]}}})
    assert ok.status == 201, ok.body


async def test_patterns_that_need_backtracking_and_oversized_schemas_are_refused(api, session):
    agent, made = await session()
    cases = [
        ({"type": "object", "properties": {"a": {"type": "string", "pattern": "^(?=x)x$"}}},
         "properties/a/pattern: \"^(?=x)x$\" is not a \"regex\" (patterns are matched in linear time: no lookaround "
         "or backreferences)"),
        ({"type": "object", "patternProperties": {"(a)\\1": {}}}, "no lookaround or backreferences"),
        ({"type": "object", "description": "x" * (256 * 1024)}, "schema: is larger than 256 KiB"),
    ]
    for schema, expected in cases:
        reply = await ask(api, agent, made, schema)
        assert reply.status == 400 and expected in reply.error, (schema, reply.body)
        reply = await api("POST", "/v1/agent-configurations", {"agent_id": agent["id"], "schema": schema,
                                                                 "value": {}})
        assert reply.status == 400 and expected in reply.error, (schema, reply.body)


async def test_text_that_is_not_unicode_is_a_400_on_the_page(api, session):
    """The page's JSON control reads a "\\ud800" escape as a lone surrogate, which jsonschema-rs cannot take."""
    agent, made = await session()
    data = {"title": "Data", "not": {"enum": ["x", {}]}}  # comparing values makes jsonschema-rs read the text
    request = (await ask(api, agent, made, {"type": "object", "properties": {"data": data}})).body
    link = (await api("POST", f"/v1/agent-session-input-requests/{request['id']}/links", {})).body
    _, cookie, csrf = await open_page(api, link["url"])
    reply = await submit(api, link["url"], {"_csrf": csrf, "f-0": '"\\ud800"'}, headers=cookie)
    assert reply.status == 400 and "not valid Unicode: a lone surrogate" in reply.body, reply.body
    ok = await submit(api, link["url"], {"_csrf": csrf, "f-0": '"\\u00e9"'}, headers=cookie)
    assert ok.status == 200, ok.body
    done = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert done["response"] == {"data": "é"}
