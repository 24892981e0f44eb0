"""Approval links in a real browser: the page answers a request with scripts off, and the JupyterLab
inbox's "Copy approval link" button makes one."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from playwright.async_api import expect

from ..images import tiny_png
from ..receivers import start_receiver
from .conftest import ARTIFACTS, lab_server, open_lab, open_link_page, run
from .test_lab import INBOX_TAB, agent_with_session, api_client, ask, ok

TRADES = json.loads((Path(__file__).parents[1] / "fixtures" / "trade-approval-schema.json").read_text())


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A server of its own: the session's shared one expects to see only its own tests' requests and deliveries."""
    running = lab_server(tmp_path_factory.mktemp("lab-links"))
    yield running
    running.stop()


def test_the_link_page_answers_the_trade_approval_without_javascript(lab):
    async def main() -> None:
        started = time.monotonic()
        receiver, http = start_receiver()
        async with api_client(lab) as api:
            agent, session = await agent_with_session(api, "trade-bot", receiver.url("/agent"))
            request = await ask(api, agent, session, "Approve proposed trades", TRADES)
            link = await ok(await api.post(f"/agent-session-input-requests/{request['id']}/links", json={}))
            requests: list[str] = []
            # A stranger's browser: no Jupyter cookie or token, and no JavaScript at all.
            async with open_link_page("approval-link-page") as (page, steps):
                page.on("request", lambda r: requests.append(r.url))
                await page.goto(link["url"])
                await expect(page.locator("h1")).to_have_text("Approve proposed trades")
                await expect(page.locator(".meta")).to_contain_text("trade-bot")
                await expect(page.locator('fieldset[data-field="trade_0"] legend')).to_have_text("BUY 10 AAPL *")
                await expect(page.locator('fieldset[data-field="trade_1"]')).to_contain_text('"BTC"')
                await steps.shot("form")
                await page.locator('fieldset[data-field="trade_0"] input[type="checkbox"]').check()
                await page.get_by_label("Notes for the agent").fill("Buy yes, hold the BTC sale")
                await page.get_by_label("Your name (optional)").fill("Morgan (desk head)")
                await steps.shot("filled")
                await page.get_by_role("button", name="Submit").click()
                await expect(page.locator("h1")).to_contain_text("Answer sent")
                await expect(page.locator("main")).to_contain_text("Morgan (desk head)")
                await steps.shot("confirmation")
                await page.goto(link["url"])  # single use
                await expect(page.locator("h1")).to_have_text("Link no longer valid")
                await expect(page.locator("main")).to_contain_text("already been used")
                await steps.shot("used")
            stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
            assert stored["status"] == "resolved" and stored["resolved_by"] == f"link:{link['id']}"
            assert stored["resolved_by_name"] == "Morgan (desk head)"
            assert stored["response"] == {
                "trade_0": {"symbol": "AAPL", "action": "buy", "quantity": 10, "approved": True},
                "trade_1": {"symbol": "BTC", "action": "sell", "quantity": 3, "approved": False},
                "notes": "Buy yes, hold the BTC sale"}
            (call,) = await receiver.wait_for(1)
            assert call.json["request_id"] == request["id"] and call.json["session_id"] == session["id"]
            await asyncio.sleep(0.3)
            assert len(receiver.calls) == 1
        assert requests and all(url.split("?")[0].startswith(link["url"].rsplit("/", 1)[0]) for url in requests), \
            requests  # the page loads nothing but itself
        http.stop()
        (ARTIFACTS / "approval-link-page" / "duration.txt").write_text(f"{time.monotonic() - started:.2f} s\n")

    run(main())


def test_the_link_page_leaves_a_bounded_number_empty_until_it_is_typed(lab):
    """A bounded integer without a default starts empty (never its minimum); submitted empty, the page
    names it beside the field and nothing is answered. A date and time is read in the zone picked."""

    async def main() -> None:
        schema = {"type": "object", "required": ["quantity"], "properties": {
            "quantity": {"type": "integer", "title": "Quantity", "minimum": 1, "maximum": 100},
            "start": {"type": "string", "format": "date-time", "title": "Start"}}}
        async with api_client(lab) as api:
            agent, session = await agent_with_session(api, "count-bot", "http://127.0.0.1:9/agent")
            request = await ask(api, agent, session, "How many?", schema)
            link = await ok(await api.post(f"/agent-session-input-requests/{request['id']}/links", json={}))
            async with open_link_page("approval-link-empty-number", width=900, height=900) as (page, steps):
                await page.goto(link["url"])
                quantity = page.get_by_label("Quantity *")
                await expect(quantity).to_have_value("")  # not 1, the minimum
                await expect(quantity).to_have_attribute("min", "1")
                await steps.shot("empty")
                await page.get_by_role("button", name="Submit").click()
                field = page.locator('label[data-field="quantity"]')
                await expect(field.locator(".problem")).to_have_text("Quantity: required")
                await expect(page.get_by_label("Quantity *")).to_have_value("")
                await steps.shot("blocked")
                stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
                assert stored["status"] == "pending"
                await page.get_by_label("Quantity *").fill("3")
                await page.get_by_label("Start").fill("2026-12-24T09:30")
                await page.get_by_label("Your time zone").select_option("+05:30")
                await page.get_by_role("button", name="Submit").click()
                await expect(page.locator("h1")).to_contain_text("Answer sent")
                await steps.shot("sent")
            stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
            assert stored["response"] == {"quantity": 3, "start": "2026-12-24T04:00:00Z"}

    run(main())


def test_the_link_page_shows_the_evidence_and_rejects_without_checking_the_form(lab):
    """Scripts off: the evidence's image is drawn inline under the page's CSP (and nothing blocked), a Reply
    without words is refused beside the comment box, and Reject goes through with a required choice
    emptied, as the browser's own form checks are skipped for it."""

    async def main() -> None:
        schema = {"type": "object", "required": ["venue"], "properties": {
            "venue": {"type": "string", "title": "Venue", "enum": ["NYSE", "NASDAQ"]},
            "quantity": {"type": "integer", "title": "Quantity"}}}
        context = [{"title": "Spread", "data": {"image/png": tiny_png(40, 20)}},
                   {"title": "Fills", "data": {"text/html": '<p>Filled <b>3</b></p><script>document.title="x"</script>'
                                                            '<img src="x" onerror="document.title=\'y\'">'}}]
        async with api_client(lab) as api:
            agent, session = await agent_with_session(api, "evidence-bot", "http://127.0.0.1:9/agent")
            request = await ok(await api.post("/agent-session-input-requests", json={
                "session_id": session["id"], "agent_id": agent["id"], "key": "venue", "title": "Route the order?",
                "message": "Best venue by spread.",
                "schema": schema, "defaults": {"venue": "NYSE", "quantity": 40}, "context": context,
                "decisions": ["approve", "reject", "respond"]}))
            link = await ok(await api.post(f"/agent-session-input-requests/{request['id']}/links", json={}))
            console: list[str] = []
            async with open_link_page("approval-link-evidence", width=900, height=1100) as (page, steps):
                page.on("console", lambda message: console.append(message.text))
                await page.goto(link["url"])
                figure = page.locator(".opensink-context figure").first
                await expect(figure.locator("figcaption")).to_have_text("Spread")
                box = await figure.locator("img").bounding_box()
                assert box and (round(box["width"]), round(box["height"])) == (40, 20), box  # drawn, not alt text
                await expect(page.locator(".opensink-context")).to_contain_text("Filled 3")
                await expect(page.get_by_label("Venue *")).to_have_value("0")  # the proposal, NYSE
                await expect(page.get_by_label("Quantity")).to_have_value("40")
                await steps.shot("form")
                await page.get_by_role("button", name="Reply").click()
                await expect(page.locator(".comment .problem")).to_contain_text("write your reply")
                await steps.shot("reply-refused")
                await page.get_by_label("Venue *").select_option("")  # a required choice emptied
                await page.get_by_label("Comment").fill("Wait for the open.")
                await page.get_by_role("button", name="Reject").click()
                await expect(page.locator("h1")).to_contain_text("Rejected")
                await steps.shot("rejected")
            stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
            assert (stored["decision"], stored["comment"], stored["response"]) == ("reject", "Wait for the open.", None)
            assert not [text for text in console if "Content Security Policy" in text], console

    run(main())


def test_the_lab_inbox_copies_an_approval_link(lab):
    async def main() -> None:
        async with api_client(lab) as api:
            agent, session = await agent_with_session(api, "copy-bot", "http://127.0.0.1:9/agent")
            async with open_lab(lab, "inbox-approval-link") as (page, steps):
                await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
                await page.click(INBOX_TAB)
                request = await ask(api, agent, session, "Approve the rollout", {
                    "type": "object", "properties": {"approved": {"type": "boolean"}}})
                card = page.locator(f'form[data-request-id="{request["id"]}"]')
                await card.wait_for()
                await card.get_by_role("button", name="Copy approval link").click()
                field = card.locator("input.jp-OpenSink-link-url")
                await expect(field).to_be_visible()
                url = await field.input_value()
                assert "/opensink/approve/" in url and url.startswith("http://127.0.0.1:")
                await expect(card.locator(".jp-OpenSink-link")).to_contain_text("Copied.")
                assert await page.evaluate("navigator.clipboard.readText()") == url
                await steps.shot("link-copied")
                await field.press("Enter")  # must not answer the request
                links = await ok(await api.get(f"/agent-session-input-requests/{request['id']}/links"))
                assert [x["status"] for x in links["items"]] == ["active"]
                stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
                assert stored["status"] == "pending"
            async with httpx_client() as anyone:
                page_reply = await anyone.get(url)
                assert page_reply.status_code == 200 and "Approve the rollout" in page_reply.text

    run(main())


def httpx_client():
    import httpx

    return httpx.AsyncClient(timeout=30)


def test_the_lab_inbox_leaves_a_bounded_number_empty_until_it_is_typed(lab):
    """The JupyterLab inbox draws the same form: the bounded number starts empty, and left empty it blocks
    the submit with the message beside it."""

    async def main() -> None:
        schema = {"type": "object", "required": ["quantity"], "properties": {
            "quantity": {"type": "integer", "title": "Quantity", "minimum": 1, "maximum": 100},
            "price": {"type": "number", "title": "Price", "minimum": 0}}}
        async with api_client(lab) as api:
            agent = await ok(await api.post("/agents", json={"name": "count-bot"}))
            session = await ok(await api.post("/agent-sessions", json={"agent_id": agent["id"]}))
            async with open_lab(lab, "inbox-empty-number") as (page, steps):
                await page.click(INBOX_TAB)
                request = await ask(api, agent, session, "How many?", schema)
                card = page.locator(f'form[data-request-id="{request["id"]}"]')
                await card.wait_for()
                quantity = card.locator('input[name="quantity"]')
                await expect(quantity).to_have_value("")  # not 1, the minimum
                await expect(card.locator('input[name="price"]')).to_have_value("")
                await card.get_by_role("button", name="Submit").click()
                problem = card.locator('label[data-field="quantity"] .jp-OpenSink-problem')
                await expect(problem).to_have_text("Quantity: required")
                await expect(card.locator(".jp-OpenSink-error")).to_have_text("Quantity: required")
                await steps.shot("blocked")
                stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
                assert stored["status"] == "pending"
                await quantity.fill("3")
                await card.get_by_role("button", name="Submit").click()
                await card.wait_for(state="detached")
            stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
            assert stored["response"] == {"quantity": 3}  # the price left empty is not sent

    run(main())
