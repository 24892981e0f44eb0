"""Approval links: the API that makes them and the page that answers a request through one."""

from __future__ import annotations

import asyncio
import base64
import getpass
import html
import json
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from jupyter_opensink.services.secrets import hash_secret

from ..images import tiny_png

TRADES = json.loads((Path(__file__).parents[1] / "fixtures" / "trade-approval-schema.json").read_text())
BOUNDED = {"type": "object", "required": ["amount"], "properties": {
    "amount": {"type": "integer", "title": "Amount", "minimum": 1, "maximum": 100},
    "reason": {"type": "string", "title": "Reason"}}}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def ask(api):
    """``await ask(schema, endpoint=None)`` -> (agent, pending request)."""

    async def make(schema: dict = BOUNDED, endpoint: dict | None = None, **request_fields) -> tuple[dict, dict]:
        agent = (await api("POST", "/v1/agents", {"name": "Trader bot", "execution_endpoint": endpoint})).body
        session = (await api("POST", "/v1/agent-sessions", {"agent_id": agent["id"]})).body
        reply = await api("POST", "/v1/agent-session-input-requests", {
            "session_id": session["id"], "agent_id": agent["id"], "key": "go", "title": "Approve the trades",
            "message": "Two trades are waiting.", "schema": schema, **request_fields})
        assert reply.status == 201, reply.body
        return agent, reply.body

    return make


@pytest.fixture
def link(api):
    """``await link(request, **body)`` -> the created link (201 checked)."""

    async def make(request: dict, **body) -> dict:
        reply = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/links", body)
        assert reply.status == 201, reply.body
        return reply.body

    return make


def page_path(url: str) -> str:
    return urlsplit(url).path


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, page
    return html.unescape(found.group(1))


def cookie_of(reply) -> dict[str, str]:
    cookies = [c.split(";")[0] for c in reply.headers.get_list("Set-Cookie") if c.startswith("opensink-approve=")]
    assert cookies, reply.headers
    return {"Cookie": cookies[0]}


async def open_page(api, url: str):
    reply = await api("GET", page_path(url), auth=None)
    assert reply.status == 200, reply.body
    return reply, cookie_of(reply), hidden(reply.body, "_csrf")


async def submit(api, url: str, fields: dict, *, headers: dict | None = None):
    return await api("POST", page_path(url), auth=None, raw=urlencode(fields).encode(),
                     headers={**FORM, **(headers or {})})


# -- the API --------------------------------------------------------------------------------------
async def test_a_link_is_an_absolute_single_request_url_whose_token_is_stored_hashed(api, ask, link, opensink_app,
                                                                                      jp_base_url):
    _, request = await ask()
    made = await link(request, note="for the on-call engineer")
    assert set(made) == {"id", "request_id", "workspace_id", "note", "expires_at", "status", "used_at", "used_by_name",
                         "revoked_at", "created_at", "updated_at", "url"}
    parts = urlsplit(made["url"])
    assert parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.port
    assert parts.path.startswith(f"{jp_base_url}opensink/approve/")
    token = parts.path.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 random bits, base64url
    assert made["status"] == "active" and made["note"] == "for the on-call engineer" and made["used_at"] is None
    stored = await opensink_app.store.get("approval_links", made["id"])
    assert stored["token_hash"] == hash_secret(token) and token not in json.dumps(stored)
    listed = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}/links")).body
    assert [x["id"] for x in listed["items"]] == [made["id"]]
    assert "url" not in listed["items"][0] and "token_hash" not in listed["items"][0]
    assert "form_key" not in json.dumps(listed)
    one = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}/links/{made['id']}")).body
    assert one == listed["items"][0]
    # Two links of one request are two tokens.
    other = await link(request)
    assert other["url"] != made["url"]


async def test_expiry_defaults_to_a_day_is_bounded_and_never_outlives_the_request(api, ask, link):
    from jupyter_opensink.ids import parse_time

    _, request = await ask()
    made = await link(request)
    lifetime = parse_time(made["expires_at"]) - parse_time(made["created_at"])
    assert abs(lifetime.total_seconds() - 86400) < 5
    assert (await link(request, expires_in=3600))["expires_at"] < made["expires_at"]
    reply = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/links", {"expires_in": 59})
    assert reply.status == 400 and "expires_in" in reply.error, reply.body  # every case: tests/test_bodies.py
    week = await link(request, expires_in=7 * 86400)
    assert abs((parse_time(week["expires_at"]) - parse_time(week["created_at"])).total_seconds() - 7 * 86400) < 5
    reply = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/links", {"unknown": 1})
    assert reply.status == 400 and "unknown" in reply.error
    _, soon = await ask(expires_at="2999-01-01T00:00:00Z")
    assert (await link(soon))["expires_at"] != "2999-01-01T00:00:00.000Z"  # a day, sooner than the request
    _, sooner = await ask(expires_at=_in_seconds(600))
    assert (await link(sooner))["expires_at"] == sooner["expires_at"]


def _in_seconds(seconds: float) -> str:
    import time

    from jupyter_opensink.ids import format_time
    return format_time(time.time() + seconds)


async def test_no_links_for_resolved_or_expired_requests(api, ask, opensink_app):
    _, request = await ask()
    assert (await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
                      {"response": {"amount": 5}})).status == 200
    reply = await api("POST", f"/v1/agent-session-input-requests/{request['id']}/links", {})
    assert reply.status == 409 and "resolved" in reply.error
    _, late = await ask(expires_at=_in_seconds(600))
    await opensink_app.store.update("input_requests", late["id"], {"expires_at": "2020-01-01T00:00:00.000Z"})
    reply = await api("POST", f"/v1/agent-session-input-requests/{late['id']}/links")
    assert reply.status == 409 and "expired" in reply.error
    assert (await api("POST", "/v1/agent-session-input-requests/unknown/links")).status == 404


async def test_keys_need_the_input_request_scope_and_their_own_workspace(api, ask, link, make_key):
    _, request = await ask()
    path = f"/v1/agent-session-input-requests/{request['id']}/links"
    reader = await make_key(scopes=["agent_session_input_requests:read"])
    writer = await make_key(scopes=["agent_session_input_requests:write"])
    reply = await api("POST", path, {}, key=reader)
    assert reply.status == 403 and reply.error == "this API key lacks the scope agent_session_input_requests:write"
    made = await api("POST", path, {}, key=writer)
    assert made.status == 201 and made.body["url"].startswith("http://")
    assert (await api("GET", path, key=reader)).status == 200
    assert (await api("DELETE", f"{path}/{made.body['id']}", key=reader)).status == 403
    team = (await api("POST", "/v1/workspaces", {"name": "team"})).body
    outsider = await make_key(workspace_id=team["id"])
    for method, where in (("POST", path), ("GET", path), ("GET", f"{path}/{made.body['id']}"),
                          ("DELETE", f"{path}/{made.body['id']}")):
        reply = await api(method, where, {} if method == "POST" else None, key=outsider)
        assert reply.status == 404 and "not found" in reply.error, (method, where, reply.body)
    # A link id under another request of the same workspace is not found either.
    _, second = await ask()
    reply = await api("DELETE", f"/v1/agent-session-input-requests/{second['id']}/links/{made.body['id']}")
    assert reply.status == 404


async def test_a_configured_public_url_makes_the_links(api, ask, opensink_app):
    opensink_app.api_context.public_url = "https://jupyter.example.com/team/"
    _, request = await ask()
    made = (await api("POST", f"/v1/agent-session-input-requests/{request['id']}/links")).body
    assert made["url"].startswith("https://jupyter.example.com/team/opensink/approve/")


# -- the page ---------------------------------------------------------------------------------------
async def test_the_page_shows_the_request_and_loads_nothing(api, ask, link):
    _, request = await ask(TRADES)
    made = await link(request)
    reply, cookie, csrf = await open_page(api, made["url"])
    assert reply.headers["Content-Type"].startswith("text/html")
    csp = reply.headers["Content-Security-Policy"]
    for rule in ("default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"):
        assert rule in csp, csp
    nonce = re.search(r"style-src 'nonce-([^']+)'", csp).group(1)
    assert f'<style nonce="{nonce}">' in reply.body
    assert reply.headers["Referrer-Policy"] == "no-referrer" and reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert "HttpOnly" in reply.headers["Set-Cookie"] and "SameSite=Strict" in reply.headers["Set-Cookie"]
    page = reply.body
    assert "Approve the trades" in page and "Two trades are waiting." in page and "Trader bot" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page  # nothing loads
    assert "BUY 10 AAPL" in page and "<code>&#34;AAPL&#34;</code>" in page and 'type="checkbox"' in page
    assert "Notes for the agent" in page and "Reject" not in page  # no top-level approval checkbox
    # A second view in the same browser keeps the cookie (two tabs both work).
    again = await api("GET", page_path(made["url"]), auth=None, headers=cookie)
    assert hidden(again.body, "_csrf") == csrf and "opensink-approve=" not in again.headers.get("Set-Cookie", "")


async def test_submitting_resolves_like_the_api_and_calls_the_agent_once(api, ask, link, receiver):
    _, request = await ask(TRADES, endpoint={"url": receiver.url("/agent")})
    made = await link(request)
    _, cookie, csrf = await open_page(api, made["url"])
    reply = await submit(api, made["url"], {"_csrf": csrf, "f-0-3": "on", "f-2": "ok by me", "_name": "Dana (risk)",
                                            "_action": "submit"}, headers=cookie)
    assert reply.status == 200 and "Answer sent" in reply.body and "Dana (risk)" in reply.body, reply.body
    done = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert done["status"] == "resolved" and done["response"] == {
        "trade_0": {"symbol": "AAPL", "action": "buy", "quantity": 10, "approved": True},
        "trade_1": {"symbol": "BTC", "action": "sell", "quantity": 3, "approved": False}, "notes": "ok by me"}
    assert done["resolved_by"] == f"link:{made['id']}" and done["resolved_by_name"] == "Dana (risk)"
    session = (await api("GET", f"/v1/agent-sessions/{request['session_id']}")).body
    assert session["status"] == "processing_input"
    activities = (await api("GET", "/v1/agent-session-activities",
                            params={"session_id": request["session_id"], "type": "input_request_resolved"})).body
    (resolved,) = activities["items"]
    assert resolved["payload"] == {"resolved_by": f"link:{made['id']}", "resolved_by_name": "Dana (risk)",
                                   "answer": {"decision": None, "comment": None, "response": done["response"],
                                              "changes": None, "resolved_by_name": "Dana (risk)"}}
    assert "Dana (risk)" in resolved["message"] and resolved["related_entity_id"] == request["id"]
    (call,) = await receiver.wait_for(1)
    assert call.json["request_id"] == request["id"] and call.headers["X-Opensink-Request-Id"] == request["id"]
    used = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}/links/{made['id']}")).body
    assert used["status"] == "used" and used["used_by_name"] == "Dana (risk)" and used["used_at"]
    # Single use: the page and another submission now say so, and nothing more happens.
    for again in (await api("GET", page_path(made["url"]), auth=None),
                  await submit(api, made["url"], {"_csrf": csrf, "f-0-3": "on"}, headers=cookie)):
        assert again.status == 410 and "already been used" in again.body
        assert "Approve the trades" not in again.body and "Trader bot" not in again.body
    await asyncio.sleep(0.2)
    assert len(receiver.calls) == 1


ORDER = {"type": "object", "required": ["symbol", "quantity"], "properties": {
    "symbol": {"type": "string", "title": "Symbol"},
    "quantity": {"type": "integer", "title": "Quantity", "minimum": 1, "maximum": 1000},
    "limit": {"type": "number", "title": "Limit price"},
    "note": {"type": "string", "title": "Note"}}}
PROPOSAL = {"symbol": "AAPL", "quantity": 10, "limit": 187.5}
DECIDE = ["approve", "reject", "respond"]


def buttons(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<button type="submit" name="_action" value="([a-z]+)"[^>]*>([^<]+)</button>', page)


async def test_the_form_opens_with_the_proposal_and_approving_it_unchanged_records_no_changes(api, ask, link,
                                                                                                receiver):
    _, request = await ask(ORDER, endpoint={"url": receiver.url("/agent")}, defaults=PROPOSAL, decisions=DECIDE)
    made = await link(request)
    reply, cookie, csrf = await open_page(api, made["url"])
    page = reply.body
    assert 'name="f-0" value="AAPL"' in page and 'name="f-1" value="10"' in page and 'value="187.5"' in page
    assert 'name="f-3" value=""' in page  # no proposal, no default: empty, never a value nobody chose
    assert buttons(page) == [("approve", "Approve"), ("respond", "Reply"), ("reject", "Reject")]
    assert re.search(r'value="respond" class="respond" formnovalidate', page)  # only Approve checks the form
    assert '<textarea name="_comment" class="prose" rows="3" maxlength="4000">' in page
    entries = {"_csrf": csrf, "f-0": "AAPL", "f-1": "10", "f-2": "187.5", "f-3": "", "_action": "approve",
               "_name": "Kim"}
    done = await submit(api, made["url"], entries, headers=cookie)
    assert done.status == 200 and "✔ Approved" in done.body and "Kim" in done.body, done.body
    stored = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert stored["decision"] == "approve" and stored["changes"] == [] and stored["response"] == PROPOSAL
    assert stored["comment"] is None and stored["resolved_by_name"] == "Kim"
    (call,) = await receiver.wait_for(1)
    assert call.json["answer"] == {"decision": "approve", "comment": None, "response": PROPOSAL, "changes": [],
                                   "resolved_by_name": "Kim"}


async def test_an_edit_is_recorded_as_a_json_patch_and_the_comment_goes_with_it(api, ask, link, receiver):
    _, request = await ask(ORDER, endpoint={"url": receiver.url("/agent")}, defaults=PROPOSAL, decisions=DECIDE)
    made = await link(request)
    _, cookie, csrf = await open_page(api, made["url"])
    entries = {"_csrf": csrf, "f-0": "AAPL", "f-1": "5", "f-2": "", "f-3": "half now", "_action": "approve",
               "_comment": "  the rest next week "}
    assert (await submit(api, made["url"], entries, headers=cookie)).status == 200
    stored = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert stored["response"] == {"symbol": "AAPL", "quantity": 5, "note": "half now"}
    assert sorted(stored["changes"], key=lambda op: op["path"]) == [
        {"op": "remove", "path": "/limit"}, {"op": "add", "path": "/note", "value": "half now"},
        {"op": "replace", "path": "/quantity", "value": 5}]
    (call,) = await receiver.wait_for(1)
    assert call.json["answer"]["changes"] == stored["changes"]
    assert call.json["answer"]["comment"] == stored["comment"] == "the rest next week"


async def test_reject_reads_no_form_and_sends_the_comment(api, ask, link, receiver):
    _, request = await ask(ORDER, endpoint={"url": receiver.url("/agent")}, defaults=PROPOSAL, decisions=DECIDE)
    made = await link(request)
    _, cookie, csrf = await open_page(api, made["url"])
    entries = {"_csrf": csrf, "f-0": "", "f-1": "lots", "_action": "reject", "_comment": "Not before earnings."}
    done = await submit(api, made["url"], entries, headers=cookie)  # an empty and an invalid field: not read
    assert done.status == 200 and "✔ Rejected" in done.body, done.body
    stored = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert (stored["decision"], stored["comment"], stored["response"], stored["changes"]) == (
        "reject", "Not before earnings.", None, None)
    assert stored["resolved_by_name"] == "someone with the approval link"  # no name typed
    (call,) = await receiver.wait_for(1)
    assert call.json["answer"]["decision"] == "reject" and call.json["answer"]["comment"] == "Not before earnings."


async def test_a_reply_needs_words_beside_the_comment_box_and_then_sends_them(api, ask, link, receiver):
    _, request = await ask(ORDER, endpoint={"url": receiver.url("/agent")}, defaults=PROPOSAL,
                           decisions=["reject", "respond"])
    made = await link(request)
    reply, cookie, csrf = await open_page(api, made["url"])
    assert buttons(reply.body) == [("respond", "Reply"), ("reject", "Reject")]  # Enter never rejects
    empty = await submit(api, made["url"], {"_csrf": csrf, "f-1": "7", "_action": "respond", "_comment": "  "},
                         headers=cookie)
    assert empty.status == 400 and "Your answer was not sent" in empty.body
    comment_box = re.search(r'<label class="field comment">.*?</label>', empty.body, re.S).group(0)
    assert '<div class="problem" role="alert">Comment: write your reply' in comment_box
    assert 'name="f-1" value="7"' in empty.body  # what was typed is kept
    pending = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert pending["status"] == "pending" and receiver.calls == []
    too_long = await submit(api, made["url"], {"_csrf": csrf, "_action": "respond", "_comment": "x" * 4001},
                            headers=cookie)
    assert too_long.status == 400 and "Comment: at most 4,000 characters" in too_long.body
    approve = await submit(api, made["url"], {"_csrf": csrf, "f-0": "A", "f-1": "1", "_action": "approve"},
                           headers=cookie)
    assert approve.status == 400 and "answered with one of the buttons" in approve.body  # not offered
    words = "Buy 5 now and 5 after the call."
    done = await submit(api, made["url"], {"_csrf": csrf, "f-1": "", "_action": "respond", "_comment": words},
                        headers=cookie)
    assert done.status == 200 and "✔ Reply sent" in done.body and "Your reply" in done.body
    stored = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert (stored["decision"], stored["comment"], stored["response"]) == ("respond", words, None)
    (call,) = await receiver.wait_for(1)
    assert call.json["answer"]["decision"] == "respond" and call.json["answer"]["comment"] == words


async def test_without_decisions_one_submit_answers_with_no_decision(api, ask, link):
    schema = {"type": "object", "properties": {"approved": {"type": "boolean", "default": True},
                                               "why": {"type": "string"}}}
    _, request = await ask(schema)
    made = await link(request)
    reply, cookie, csrf = await open_page(api, made["url"])
    assert buttons(reply.body) == [("submit", "Submit")] and "_comment" not in reply.body  # no guessed Reject
    done = await submit(api, made["url"], {"_csrf": csrf, "f-1": "fine", "_action": "reject"}, headers=cookie)
    assert done.status == 200 and "✔ Answer sent" in done.body
    stored = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert stored["response"] == {"approved": False, "why": "fine"}  # the form as sent, nothing set for it
    assert stored["decision"] is None and stored["comment"] is None and stored["changes"] is None


async def test_a_violation_is_shown_beside_its_field_as_the_form_labels_it(api, ask, link):
    schema = {"type": "object", "properties": {"code": {"type": "string", "title": "Desk code", "pattern": "^[A-Z]{3}$"}}}
    _, request = await ask(schema, decisions=["approve"])
    made = await link(request)
    _, cookie, csrf = await open_page(api, made["url"])
    bad = await submit(api, made["url"], {"_csrf": csrf, "f-0": "abc", "_action": "approve"}, headers=cookie)
    assert bad.status == 400, bad.body
    field = re.search(r'<label class="field text" data-field="code">.*?</label>', bad.body, re.S).group(0)
    assert '<div class="problem" role="alert">Desk code: ' in field and 'value="abc"' in field


async def test_the_context_is_shown_sanitized_and_images_inline(api, ask, link):
    png = tiny_png()
    context = [
        {"title": "Chart", "data": {"image/png": png, "text/plain": "a chart"}},
        {"title": "Hostile <b>title</b>", "data": {"text/html": (
            '<p>Fills <b>ok</b></p><script>alert(1)</script><img src="x" onerror="alert(2)">'
            '<a href="javascript:alert(3)">click</a><a href="https://example.org/r">report</a>'
            '<iframe src="https://example.org"></iframe><table><tr><td>1</td></tr></table>')}},
        {"title": "Drawing", "data": {"image/svg+xml": (
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><script>alert(4)</script>'
            '<rect width="4" height="4" onclick="alert(5)"/></svg>')}},
        {"title": "Notes", "data": {"text/markdown": "**Risk** is *low*.\n\n<script>alert(6)</script>"}}]
    _, request = await ask(ORDER, defaults=PROPOSAL, context=context, decisions=DECIDE)
    made = await link(request)
    reply, _, _ = await open_page(api, made["url"])
    page = reply.body
    assert "img-src data:;" in reply.headers["Content-Security-Policy"]
    assert f'<img src="data:image/png;base64,{png}" alt="Chart">' in page
    assert "<p>Fills <b>ok</b></p>" in page and "<td>1</td>" in page
    assert 'href="https://example.org/r"' in page and 'rel="noopener noreferrer"' in page
    assert "<p><strong>Risk</strong> is <em>low</em>.</p>" in page and "&lt;script&gt;" in page
    assert "<figcaption>Hostile &lt;b&gt;title&lt;/b&gt;</figcaption>" in page
    svg = re.search(r'<img src="data:image/svg\+xml;base64,([^"]+)" alt="Drawing">', page).group(1)
    drawn = base64.b64decode(svg).decode()
    assert "<rect" in drawn and "script" not in drawn and "onclick" not in drawn
    for gone in ("<script", "onerror", "javascript:", "<iframe", "alert("):
        assert gone not in page.replace("&lt;script&gt;alert(6)&lt;/script&gt;", ""), gone
    _, plain = await ask(BOUNDED)
    plain_page, _, _ = await open_page(api, (await link(plain))["url"])
    assert "img-src 'none'" in plain_page.headers["Content-Security-Policy"]  # no image, none allowed
    assert "opensink-context" not in plain_page.body


async def test_invalid_entries_are_shown_with_what_was_typed_and_nothing_is_resolved(api, ask, link):
    _, request = await ask()
    made = await link(request)
    _, cookie, csrf = await open_page(api, made["url"])
    reply = await submit(api, made["url"], {"_csrf": csrf, "f-0": "250", "f-1": "because <b>", "_name": "Lee"},
                         headers=cookie)
    assert reply.status == 400 and "Your answer was not sent" in reply.body
    assert "Amount: must be at most 100" in reply.body
    assert 'value="250"' in reply.body and 'value="because &lt;b&gt;"' in reply.body and 'value="Lee"' in reply.body
    reply = await submit(api, made["url"], {"_csrf": csrf, "f-0": "twelve"}, headers=cookie)
    assert reply.status == 400 and "Amount: &#34;twelve&#34; is not a number" in reply.body
    reply = await submit(api, made["url"], {"_csrf": csrf, "f-0": ""}, headers=cookie)
    # A required field left empty is named beside it by the form engine, before the schema is asked.
    assert reply.status == 400 and '<div class="problem" role="alert">Amount: required</div>' in reply.body
    pending = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert pending["status"] == "pending"
    links = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}/links")).body["items"]
    assert links[0]["status"] == "active"
    ok = await submit(api, made["url"], {"_csrf": csrf, "f-0": "42"}, headers=cookie)
    assert ok.status == 200
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body["response"] == {"amount": 42}


async def test_a_form_not_sent_from_the_page_is_refused(api, ask, link):
    _, request = await ask()
    made, other = await link(request), await link(request)
    _, cookie, csrf = await open_page(api, made["url"])
    _, other_cookie, other_csrf = await open_page(api, other["url"])
    attempts = {
        "no cookie, no field": ({"f-0": "7"}, None),
        "no cookie": ({"_csrf": csrf, "f-0": "7"}, None),
        "no field": ({"f-0": "7"}, cookie),
        "a wrong field": ({"_csrf": "0" * 64, "f-0": "7"}, cookie),
        "another browser's cookie": ({"_csrf": csrf, "f-0": "7"}, other_cookie),
        "another link's field": ({"_csrf": other_csrf, "f-0": "7"}, other_cookie),
    }
    for what, (fields, headers) in attempts.items():
        reply = await submit(api, made["url"], fields, headers=headers)
        assert reply.status == 403 and "could not be verified" in reply.body, (what, reply.status)
        assert 'value="7"' in reply.body, what  # the entries are kept
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body["status"] == "pending"
    assert (await submit(api, made["url"], {"_csrf": csrf, "f-0": "7"}, headers=cookie)).status == 200


async def test_revoked_expired_and_answered_links_say_which_and_nothing_else(api, ask, link, opensink_app):
    _, request = await ask()
    revoked, expired, unused = await link(request), await link(request), await link(request)
    path = f"/v1/agent-session-input-requests/{request['id']}/links"
    _, cookie, csrf = await open_page(api, revoked["url"])
    gone = await api("DELETE", f"{path}/{revoked['id']}")
    assert gone.status == 200 and gone.body["status"] == "revoked" and gone.body["revoked_at"]
    again = await api("DELETE", f"{path}/{revoked['id']}")
    assert again.status == 200 and again.body["revoked_at"] == gone.body["revoked_at"]
    await opensink_app.store.update("approval_links", expired["id"], {"expires_at": "2020-01-01T00:00:00.000Z"})
    for made, text in ((revoked, "has been revoked"), (expired, "has expired")):
        reply = await api("GET", page_path(made["url"]), auth=None)
        assert reply.status == 410 and text in reply.body, reply.body
        assert "Approve the trades" not in reply.body and "Trader bot" not in reply.body
        assert reply.headers["Cache-Control"] == "no-store" and "default-src 'none'" in reply.headers[
            "Content-Security-Policy"]
    reply = await submit(api, revoked["url"], {"_csrf": csrf, "f-0": "3"}, headers=cookie)
    assert reply.status == 410 and "revoked" in reply.body
    listed = {x["id"]: x["status"] for x in (await api("GET", path)).body["items"]}
    assert listed == {revoked["id"]: "revoked", expired["id"]: "expired", unused["id"]: "active"}
    # Answered elsewhere (in the notebook): the remaining link tells so, and cannot be revoked... it can.
    assert (await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve",
                      {"response": {"amount": 1}})).status == 200
    reply = await api("GET", page_path(unused["url"]), auth=None)
    assert reply.status == 410 and "already been answered" in reply.body


async def test_two_submissions_at_once_answer_once(api, ask, link, receiver):
    _, request = await ask(endpoint={"url": receiver.url("/agent")})
    made = await link(request)
    _, cookie, csrf = await open_page(api, made["url"])
    replies = await asyncio.gather(*(submit(api, made["url"], {"_csrf": csrf, "f-0": str(n)}, headers=cookie)
                                     for n in (3, 4, 5, 6)))
    assert sorted(r.status for r in replies) == [200, 410, 410, 410], [r.status for r in replies]
    await receiver.wait_for(1)
    await asyncio.sleep(0.2)
    assert len(receiver.calls) == 1


async def test_a_link_revoked_just_before_the_answer_is_written_never_answers(api, ask, link, opensink_app):
    _, request = await ask()
    made = await link(request)
    _, cookie, csrf = await open_page(api, made["url"])
    requests = opensink_app.services.input_requests
    resolve = requests.resolve

    async def revoked_meanwhile(*args, **kwargs):  # after every check, before the write
        await api("DELETE", f"/v1/agent-session-input-requests/{request['id']}/links/{made['id']}")
        return await resolve(*args, **kwargs)

    requests.resolve = revoked_meanwhile
    try:
        reply = await submit(api, made["url"], {"_csrf": csrf, "f-0": "8"}, headers=cookie)
    finally:
        requests.resolve = resolve
    assert reply.status == 410 and "revoked" in reply.body
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body["status"] == "pending"


async def test_a_used_link_cannot_be_revoked(api, ask, link):
    _, request = await ask()
    made = await link(request)
    _, cookie, csrf = await open_page(api, made["url"])
    assert (await submit(api, made["url"], {"_csrf": csrf, "f-0": "9"}, headers=cookie)).status == 200
    reply = await api("DELETE", f"/v1/agent-session-input-requests/{request['id']}/links/{made['id']}")
    assert reply.status == 409 and "already used" in reply.error


async def test_an_expired_request_makes_its_link_page_say_so(api, ask, link, opensink_app):
    _, request = await ask(expires_at=_in_seconds(600))
    made = await link(request)
    await opensink_app.store.update("input_requests", request["id"], {"expires_at": "2020-01-01T00:00:00.000Z"})
    reply = await api("GET", page_path(made["url"]), auth=None)
    assert reply.status == 410 and "expired" in reply.body


async def test_deleting_the_agent_deletes_its_links(api, ask, link):
    agent, request = await ask()
    made = await link(request)
    assert (await api("DELETE", f"/v1/agents/{agent['id']}")).status == 200
    reply = await api("GET", page_path(made["url"]), auth=None)
    assert reply.status == 404 and "not valid" in reply.body


async def test_guessing_tokens_is_rate_limited_per_address(api, ask, link, opensink_app):
    _, request = await ask()
    made = await link(request)
    base = page_path(made["url"]).rsplit("/", 1)[0]
    for attempt in range(10):
        reply = await api("GET", f"{base}/guess-{attempt}", auth=None)
        assert reply.status == 404 and "not valid" in reply.body, (attempt, reply.status)
        assert "Approve" not in reply.body
    for path in (f"{base}/guess-10", page_path(made["url"])):  # then even a real link waits
        reply = await api("GET", path, auth=None)
        assert reply.status == 429 and "Too many" in reply.body
        assert 1 <= int(reply.headers["Retry-After"]) <= 60
    reply = await api("POST", page_path(made["url"]), auth=None, raw=b"f-0=1", headers=FORM)
    assert reply.status == 429
    # Known tokens never count: a fresh limiter, then many views of a real link.
    limiter = next(spec for spec in opensink_app.handlers if "approve" in spec[0])[2]["limiter"]
    limiter._failures.clear()
    for _ in range(15):
        assert (await api("GET", page_path(made["url"]), auth=None)).status == 200


async def test_the_token_stays_out_of_the_logs(api, ask, link, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    _, request = await ask()
    made = await link(request)
    token = page_path(made["url"]).rsplit("/", 1)[1]
    await api("GET", page_path(made["url"]), auth=None)
    await api("GET", page_path(made["url"]) + "x", auth=None)
    assert "/approve/" in caplog.text and token not in caplog.text
    # Any path below approve/ (no route answers most of them) is logged without the token.
    for below in ("/x", "//", "/", "/x/y?q=1", "/..%2Fx", "%2Fx"):
        caplog.clear()
        reply = await api("GET", page_path(made["url"]) + below, auth=None)
        assert reply.status in (200, 302, 404), (below, reply.status)
        assert "/approve/" in caplog.text, below
        assert token not in caplog.text and token[4:12] not in caplog.text, (below, caplog.text)


async def test_the_page_checks_the_host_header(api, ask, link):
    _, request = await ask()
    made = await link(request)
    reply = await api("GET", page_path(made["url"]), auth=None, headers={"Host": "evil.example"})
    assert reply.status == 403 and "Approve the trades" not in reply.body


async def test_other_methods_and_huge_forms_get_a_plain_page(api, ask, link, opensink_app):
    _, request = await ask()
    made = await link(request)
    for method in ("PUT", "DELETE", "PATCH"):
        reply = await api(method, page_path(made["url"]), auth=None, raw=b"" if method != "DELETE" else None)
        assert reply.status == 405 and "Approve the trades" not in reply.body, method
        assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
    big = b"f-0=" + b"1" * (opensink_app.api_context.max_body_size + 1)
    reply = await api("POST", page_path(made["url"]), auth=None, raw=big, headers=FORM)
    assert reply.status == 413 and "larger" in reply.body


async def test_the_token_opens_nothing_else(api, ask, link):
    _, request = await ask()
    made = await link(request)
    token = page_path(made["url"]).rsplit("/", 1)[1]
    for how in ({"Authorization": f"Bearer {token}"}, {"Authorization": f"token {token}"}):
        for path in (f"/v1/agent-session-input-requests/{request['id']}", "/v1/agent-session-input-requests"):
            assert (await api("GET", path, auth=None, headers=how)).status == 401
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}", auth=None,
                      params={"token": token})).status == 401


async def test_api_resolves_record_who_answered(api, ask, make_key):
    _, request = await ask()
    await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve", {"response": {"amount": 2}})
    done = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    # the token's anonymous user is recorded under the account's name, never the made-up username
    assert done["resolved_by"].startswith("user:") and done["resolved_by_name"] == getpass.getuser()
    _, second = await ask()
    key = await make_key(scopes=["agent_session_input_requests:write"])
    await api("POST", f"/v1/agent-session-input-requests/{second['id']}/resolve", {"response": {"amount": 2}},
              key=key)
    key_id = next(k for k in (await api("GET", "/v1/api-keys")).body["items"] if k["name"] == "test key")["id"]
    by_key = (await api("GET", f"/v1/agent-session-input-requests/{second['id']}")).body
    assert by_key["resolved_by"] == f"key:{key_id}" and by_key["resolved_by_name"] == "test key"


def checkbox(page: str, name: str) -> bool:
    """Whether the page's checkbox ``name`` is ticked."""
    found = re.search(rf'<input type="checkbox" name="{name}"([^>]*)>', page)
    assert found, page
    return "checked" in found.group(1)


async def test_an_unticked_checkbox_stays_unticked_after_an_error(api, ask, link):
    schema = {"type": "object", "required": ["amount"], "properties": {
        "approved": {"type": "boolean", "default": True}, "amount": {"type": "integer", "maximum": 10}}}
    _, request = await ask(schema)
    made = await link(request)
    reply, cookie, csrf = await open_page(api, made["url"])
    assert checkbox(reply.body, "f-0")  # its default
    reply = await submit(api, made["url"], {"_csrf": csrf, "f-1": "50"}, headers=cookie)  # unticked: not posted
    assert reply.status == 400 and not checkbox(reply.body, "f-0")
    reply = await submit(api, made["url"], {"_csrf": csrf, "f-0": "on", "f-1": "50"}, headers=cookie)
    assert reply.status == 400 and checkbox(reply.body, "f-0")
    assert (await submit(api, made["url"], {"_csrf": csrf, "f-1": "5"}, headers=cookie)).status == 200
    done = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert done["response"] == {"approved": False, "amount": 5}


async def test_a_conflict_while_the_link_still_works_keeps_the_entries_for_another_try(api, ask, link, opensink_app):
    from jupyter_opensink.errors import Conflict

    _, request = await ask()
    made = await link(request)
    _, cookie, csrf = await open_page(api, made["url"])
    requests = opensink_app.services.input_requests
    resolve = requests.resolve

    async def refused(*args, **kwargs):  # another write got there first, yet the link and request look unchanged
        raise Conflict(f"input request {request['id']} changed meanwhile")

    requests.resolve = refused
    try:
        reply = await submit(api, made["url"], {"_csrf": csrf, "f-0": "8"}, headers=cookie)
    finally:
        requests.resolve = resolve
    assert reply.status == 409 and "Your answer was not sent" in reply.body and 'value="8"' in reply.body
    assert "changed meanwhile" not in reply.body  # the service's wording is not the page's
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body["status"] == "pending"
    assert (await submit(api, made["url"], {"_csrf": csrf, "f-0": "8"}, headers=cookie)).status == 200


async def test_the_page_maps_domain_errors_where_the_api_does(api, ask, link, opensink_app):
    from jupyter_opensink.api import errors
    from jupyter_opensink.errors import StoreFailed, Throttled

    assert errors.status_for(Throttled(3.2), 500) == 429 and Throttled(3.2).retry_after == 4
    _, request = await ask()
    made = await link(request)
    links = opensink_app.services.approval_links
    opened = links.open

    async def broken(token):
        raise StoreFailed("disk full at /secret/path")

    links.open = broken
    try:
        reply = await api("GET", page_path(made["url"]), auth=None)
    finally:
        links.open = opened
    assert reply.status == 503 and "try again later" in reply.body and "/secret/path" not in reply.body
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]


async def test_a_form_body_is_capped_while_it_arrives_even_without_a_length(api, ask, link, opensink_app):
    from jupyter_opensink.approval.page import FORM_MAX

    assert FORM_MAX == 64 * 1024 < opensink_app.api_context.max_body_size
    _, request = await ask()
    made = await link(request)
    _, cookie, csrf = await open_page(api, made["url"])
    big = urlencode({"_csrf": csrf, "f-0": "7", "f-1": "x" * FORM_MAX}).encode()
    reply = await api("POST", page_path(made["url"]), auth=None, raw=big, chunked=True, headers={**FORM, **cookie})
    assert reply.status == 413 and "larger" in reply.body and "Approve the trades" not in reply.body
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body["status"] == "pending"
    # A form of ordinary size, chunked too, is read (tornado's own parsing: the last of repeated fields).
    fine = urlencode([("_csrf", csrf), ("f-0", "1"), ("f-0", "7"), ("f-1", "ok \u00e9")]).encode()
    reply = await api("POST", page_path(made["url"]), auth=None, raw=fine, chunked=True, headers={**FORM, **cookie})
    assert reply.status == 200, reply.body
    done = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert done["response"] == {"amount": 7, "reason": "ok \u00e9"}


async def test_a_read_only_field_without_a_value_does_not_block_the_form(api, ask, link):
    schema = {"type": "object", "properties": {"id": {"type": "string", "readOnly": True, "title": "Ticket"},
                                               "ok": {"type": "boolean"}}}
    _, request = await ask(schema)
    made = await link(request)
    reply, cookie, csrf = await open_page(api, made["url"])
    assert "Ticket" in reply.body and "not set" in reply.body
    assert (await submit(api, made["url"], {"_csrf": csrf, "f-1": "on"}, headers=cookie)).status == 200
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body["response"] == {"ok": True}


async def test_an_answer_written_elsewhere_as_the_page_submits_says_so(api, ask, link, opensink_app):
    _, request = await ask()
    made = await link(request)
    _, cookie, csrf = await open_page(api, made["url"])
    links = opensink_app.services.approval_links
    use = links.use

    async def answered_meanwhile(*args, **kwargs):  # after the page's own checks, before the link's use
        await opensink_app.services.input_requests.resolve(request["workspace_id"], request["id"], {"amount": 1})
        return await use(*args, **kwargs)

    links.use = answered_meanwhile
    try:
        reply = await submit(api, made["url"], {"_csrf": csrf, "f-0": "8"}, headers=cookie)
    finally:
        links.use = use
    assert reply.status == 410 and "already been answered" in reply.body and "Approve the trades" not in reply.body
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body["response"] == {"amount": 1}


@pytest.mark.opensink(body_timeout=2.0)  # the test's other requests must get their bodies in on a busy machine
async def test_a_form_trickling_in_is_cut_off(api, ask, link, jp_http_port):
    """No login is needed to reach the page, so a body sent byte by byte must not hold a connection."""
    _, request = await ask()
    made = await link(request)
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    writer.write((f"POST {page_path(made['url'])} HTTP/1.1\r\nHost: 127.0.0.1:{jp_http_port}\r\n"
                  "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n_csrf=").encode())
    await writer.drain()
    started = asyncio.get_running_loop().time()
    try:
        closed = await asyncio.wait_for(reader.read(), 10)  # nothing more is sent: the server closes
    finally:
        writer.close()
    assert closed == b"" and asyncio.get_running_loop().time() - started < 6
    assert (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body["status"] == "pending"


async def test_a_date_and_time_is_read_in_the_time_zone_the_person_picks(api, ask, link):
    """The page runs no script, so it asks for the person's time zone; the answer is sent in UTC, and a
    default left untouched stays the same instant whichever zone is picked."""
    schema = {"type": "object", "properties": {
        "start": {"type": "string", "format": "date-time", "title": "Start"},
        "end": {"type": "string", "format": "date-time", "default": "2026-12-01T18:00:00Z"}}}
    _, request = await ask(schema)
    made = await link(request)
    reply, cookie, csrf = await open_page(api, made["url"])
    assert 'name="_zone"' in reply.body and '<option value="+00:00" selected>UTC+00:00</option>' in reply.body
    assert 'value="2026-12-01T18:00"' in reply.body  # the default, shown in UTC
    fields = {"_csrf": csrf, "f-0": "2026-12-24T09:30", "f-1": "2026-12-01T18:00", "_zone": "+05:30"}
    bad = await submit(api, made["url"], {**fields, "f-0": "soon"}, headers=cookie)
    assert bad.status == 400 and '<option value="+05:30" selected>' in bad.body  # the zone picked is kept
    assert (await submit(api, made["url"], fields, headers=cookie)).status == 200
    stored = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}")).body
    assert stored["response"] == {"start": "2026-12-24T04:00:00Z", "end": "2026-12-01T18:00:00Z"}
    _, plain = await ask(BOUNDED)
    page, _, _ = await open_page(api, (await link(plain))["url"])
    assert 'name="_zone"' not in page.body  # no date and time, no question
