"""The labextension in a real JupyterLab and a real browser: the inbox (plain answers, and decisions on a
proposal shown beside its context), the workspace browser, the notebook widget, and a server without the
OpenSink routes."""

from __future__ import annotations

import asyncio
import re

import httpx
from playwright.async_api import expect

from ..receivers import start_receiver
from .conftest import kernel_ready, open_lab, put_notebook, run

INBOX_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="jp-opensink-inbox"]'
SCHEMA = {
    "type": "object", "required": ["approved", "amount"],
    "properties": {
        "approved": {"type": "boolean", "title": "Approve"},
        "amount": {"type": "integer", "title": "Amount", "minimum": 1, "maximum": 10},
        "note": {"type": "string", "title": "Note"},
    },
}
#: A proposal the agent wants approved, with what it shows to justify it.
TRADE = {
    "type": "object", "required": ["symbol", "quantity"],
    "properties": {
        "symbol": {"type": "string", "title": "Symbol"},
        "quantity": {"type": "integer", "title": "Quantity", "minimum": 1, "maximum": 1000},
        "side": {"type": "string", "enum": ["buy", "sell"]},
    },
}
PROPOSAL = {"symbol": "AAPL", "quantity": 100, "side": "sell"}
#: A 1x1 PNG.
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
#: Evidence an agent sends, each item trying to run a script that would set window.__pwned.
HOSTILE_CONTEXT = [
    {"title": "Why now", "data": {
        "text/plain": "Earnings beat expectations",
        "text/html": ('<p class="why">Earnings <b>beat</b> expectations</p>'
                      '<script>window.__pwned = "script"</script>'
                      '<img src="nowhere.png" onerror="window.__pwned = \'onerror\'">'
                      '<svg><script>window.__pwned = "inline svg"</script></svg>')}},
    {"title": "Trend", "data": {"image/svg+xml": (
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20" onload="window.__pwned = \'svg onload\'">'
        '<script>window.__pwned = "svg"</script><rect width="40" height="20" fill="green"/></svg>')}},
    {"title": "Price", "data": {"image/png": PNG}},
    {"title": "Notes", "data": {"text/markdown": "Volume is **high** <img src=x onerror=\"window.__pwned='md'\">"}},
    {"title": "Order", "data": {"application/json": {"symbol": "AAPL", "limit_price": 187.5}}},
]


def api_client(lab) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=lab.api, headers={"Authorization": f"token {lab.token}"}, timeout=30)


async def ok(reply: httpx.Response) -> dict:
    assert reply.status_code < 300, (reply.status_code, reply.text)
    return reply.json()


async def agent_with_session(api: httpx.AsyncClient, name: str, url: str, state: dict | None = None):
    agent = await ok(await api.post("/agents", json={"name": name, "execution_endpoint": {"url": url}}))
    session = await ok(await api.post("/agent-sessions", json={"agent_id": agent["id"], "state": state or {}}))
    return agent, session


async def ask(api: httpx.AsyncClient, agent: dict, session: dict, title: str, schema: dict) -> dict:
    return await ok(await api.post("/agent-session-input-requests", json={
        "session_id": session["id"], "agent_id": agent["id"], "key": "decision", "title": title,
        "message": "Please decide before noon.", "schema": schema}))


async def ask_decision(api: httpx.AsyncClient, agent: dict, session: dict, title: str, **extra) -> dict:
    return await ok(await api.post("/agent-session-input-requests", json={
        "session_id": session["id"], "agent_id": agent["id"], "key": "trade", "title": title,
        "message": "The position is over its limit.", "schema": TRADE,
        "defaults": PROPOSAL, "decisions": ["approve", "reject", "respond"], **extra}))


async def run_command(page, command: str) -> None:
    """Starts a JupyterLab command without waiting for it (some, like running cells, finish much later)."""
    await page.evaluate("(id) => { void window.jupyterapp.commands.execute(id); }", command)


async def answer_the_inbox_widget(page, steps, api, receiver, request: dict, *, left_within: float = 5_000) -> None:
    """Run the notebook holding ``jupyter_opensink.inbox()``, approve the "Ship the release?" request in the
    widget, and check the stored answer and the agent's callback; then shut the kernel down."""
    await run_command(page, "notebook:run-all-cells")
    output = page.locator(".jp-OutputArea-output")
    submit = output.get_by_role("button", name="Submit")
    await expect(submit).to_be_visible(timeout=90_000)
    await expect(output.locator(".widget-html").get_by_text("Ship the release?")).to_be_visible()
    await steps.shot("widget-rendered")
    await output.locator(".widget-checkbox input").check()
    await output.locator(".widget-text input").fill("after lunch")
    await submit.click()
    # answered: it left the inbox
    await expect(output.get_by_text("0 pending requests")).to_be_visible(timeout=left_within)
    await steps.shot("widget-resolved")
    stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
    assert stored["status"] == "resolved"
    assert stored["response"] == {"approved": True, "note": "after lunch"}
    (call,) = await receiver.wait_for(1)
    assert call.json["request_id"] == request["id"]
    await run_command(page, "kernelmenu:shutdown")


async def run_from_palette(page, label: str) -> None:
    """Runs the command ``label`` from the command palette (its shortcut, a search, a click on the item).

    The modal palette closes when it loses the focus, which the inbox's redraw after an answer can take
    at the wrong moment; and the shortcut toggles it. So each try starts from a closed palette and
    waits for the item to show; three tries at most.
    """
    palette = page.locator(".lm-CommandPalette-input")
    item = page.locator(".lm-CommandPalette-item", has_text=label)
    for attempt in range(3):
        if not await palette.is_visible():
            await page.keyboard.press("Control+Shift+C")
        try:
            await expect(palette).to_be_visible(timeout=3000)
            await palette.fill(label)
            await item.click(timeout=3000)
            return
        except Exception:
            if attempt == 2:
                raise


def test_inbox_shows_a_new_request_and_resolves_it(lab):
    async def main() -> None:
        receiver, http = start_receiver()
        async with api_client(lab) as api:
            agent, session = await agent_with_session(api, "transfer-bot", receiver.url("/agent"),
                                                      {"step": "waiting", "orders": [{"id": 7, "qty": 3}]})
            async with open_lab(lab, "inbox") as (page, steps):
                await page.click(INBOX_TAB)
                await expect(page.locator("#jp-opensink-inbox .jp-OpenSink-count")).to_have_text("0 pending requests")
                await steps.shot("inbox-open")

                request = await ask(api, agent, session, "Approve the transfer", SCHEMA)  # arrives by the stream
                card = page.locator(f'form[data-request-id="{request["id"]}"]')
                await card.wait_for()
                await expect(page.locator(f'{INBOX_TAB}[data-count="1"]')).to_be_visible()
                await expect(page.get_by_text("An agent asks: Approve the transfer")).to_be_visible()
                await expect(card).to_contain_text("agent transfer-bot")
                await steps.shot("request-arrived-with-badge-and-notification")

                await card.locator('input[name="amount"]').fill("50")  # over the schema's maximum
                await card.get_by_role("button", name="Submit").click()
                await expect(card.locator(".jp-OpenSink-error")).to_contain_text("amount")
                # the server's violation, beside the field it names
                await expect(card.locator('[data-field="amount"] .jp-OpenSink-problem')).to_contain_text(
                    "Amount: must be at most 10")
                await expect(card.locator('[data-field="note"] .jp-OpenSink-problem')).to_be_hidden()
                await steps.shot("server-error-shown-inline")
                assert (await ok(await api.get(f"/agent-session-input-requests/{request['id']}")))["status"] == "pending"

                await card.locator('input[name="amount"]').fill("5")
                await card.locator('input[name="approved"]').check()
                await card.locator('input[name="note"]').fill("fine by me")
                await card.get_by_role("button", name="Submit").click()
                await card.wait_for(state="detached")
                await expect(page.locator(INBOX_TAB)).not_to_have_attribute("data-count", "1")
                await steps.shot("resolved")

                stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
                assert stored["status"] == "resolved"
                assert stored["response"] == {"approved": True, "amount": 5, "note": "fine by me"}
                (call,) = await receiver.wait_for(1)
                assert call.json["request_id"] == request["id"] and call.json["session_id"] == session["id"]

                # The workspace browser, opened from the command palette, shows the session's timeline.
                await run_from_palette(page, "Open the agent workspace browser")
                browser = page.locator("#jp-opensink-browser")
                await expect(browser.locator(f'tr[data-id="{agent["id"]}"]')).to_contain_text("transfer-bot")
                await steps.shot("browser-agents")
                await browser.locator('.jp-OpenSink-tab[data-view="sessions"]').click()
                await browser.locator(f'tr[data-id="{session["id"]}"] a').click()
                detail = browser.locator(f'[data-session-id="{session["id"]}"]')
                timeline = detail.locator(".jp-OpenSink-timeline li")
                await expect(timeline.last).to_have_attribute("data-type", "input_request_resolved")
                types = [await li.get_attribute("data-type") for li in await timeline.all()]
                assert types == ["session_started", "input_request_created", "input_request_resolved"]
                await expect(detail.locator(".jp-OpenSink-json").first).to_contain_text("orders")
                await steps.shot("browser-session-timeline")
                await browser.locator('.jp-OpenSink-tab[data-view="deliveries"]').click()
                # this test's delivery (the shared server also holds other tests')
                await expect(browser.locator("tr.jp-OpenSink-ok", has_text="transfer-bot")).to_contain_text("200")
                await steps.shot("browser-deliveries")
        http.stop()

    run(main())


def test_inbox_decisions_on_a_proposal_beside_its_sanitized_context(lab):
    """A request with a proposal, context and decisions: the form opens filled with the proposal, the context
    is drawn by JupyterLab's renderers with no script of it running, Approve untouched approves it as
    proposed, Reject needs no valid form, and Reply needs words; each answer leaves a note saying who decided
    what."""
    async def main() -> None:
        receiver, http = start_receiver()
        async with api_client(lab) as api:
            agent, session = await agent_with_session(api, "trading-bot", receiver.url("/agent"))
            async with open_lab(lab, "inbox-decisions") as (page, steps):
                await page.click(INBOX_TAB)
                await expect(page.locator("#jp-opensink-inbox .jp-OpenSink-count")).to_have_text("0 pending requests")

                # and a chart that would fetch its data and evaluate an expression: not drawn, nothing fetched
                tracked = {"title": "Tracked chart", "data": {
                    "application/vnd.vegalite.v5+json": {"data": {"url": receiver.url("/chart.csv")}, "mark": "bar",
                                                         "transform": [{"calculate": "datum.a * 2", "as": "b"}]},
                    "text/plain": "a chart that would load its data"}}
                request = await ask_decision(api, agent, session, "Sell 100 AAPL?",
                                             context=[*HOSTILE_CONTEXT, tracked])
                card = page.locator(f'form[data-request-id="{request["id"]}"]')
                await card.wait_for()
                # the proposal fills the form
                await expect(card.locator('input[name="symbol"]')).to_have_value("AAPL")
                await expect(card.locator('input[name="quantity"]')).to_have_value("100")
                await expect(card.locator('select[name="side"] option:checked')).to_have_text("sell")
                # one button per decision, a comment box, no plain Submit
                for label in ("Approve", "Reject", "Reply"):
                    await expect(card.get_by_role("button", name=label, exact=True)).to_be_visible()
                await expect(card.get_by_role("button", name="Submit")).to_have_count(0)
                await expect(card.locator(".jp-OpenSink-comment textarea")).to_be_visible()

                # the context, each item under its title, drawn by JupyterLab's renderers, sanitized
                items = card.locator(".jp-OpenSink-context-item")
                await expect(items).to_have_count(6)
                await expect(items.locator(".jp-OpenSink-context-title")).to_have_text(
                    ["Why now", "Trend", "Price", "Notes", "Order", "Tracked chart"])
                await expect(items.nth(5)).to_contain_text("a chart that would load its data")
                assert await items.nth(5).locator(".jp-RenderedVegaCommon5").count() == 0
                html = items.nth(0).locator(".jp-RenderedHTMLCommon")
                await expect(html.locator("p.why")).to_have_text("Earnings beat expectations")
                await expect(items.nth(1).locator('img[src^="data:image/svg+xml"]')).to_be_visible()
                await expect(items.nth(2).locator('img[src^="data:image/png;base64,"]')).to_be_visible()
                await expect(items.nth(3).locator("strong")).to_have_text("high")
                await expect(items.nth(4)).to_contain_text("limit_price")  # JupyterLab's JSON viewer
                assert await card.locator("script").count() == 0
                assert await card.locator("[onerror], [onload]").count() == 0
                assert await items.nth(2).locator("img").evaluate("img => img.naturalWidth") == 1
                await page.wait_for_timeout(1000)  # time for a broken image's onerror, had it survived
                assert await page.evaluate("window.__pwned") is None
                assert not [call for call in receiver.calls if call.path == "/chart.csv"]
                await steps.shot("proposal-and-context")
                await card.locator('input[name="symbol"]').press("Enter")  # a decision is given by its button only
                await page.wait_for_timeout(500)
                assert (await ok(await api.get(f"/agent-session-input-requests/{request['id']}")))["status"] == "pending"

                # Approve untouched: approved as proposed
                await card.get_by_role("button", name="Approve", exact=True).click()
                await card.wait_for(state="detached")
                stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
                assert (stored["status"], stored["decision"], stored["changes"]) == ("resolved", "approve", [])
                assert stored["response"] == PROPOSAL and stored["comment"] is None
                note = page.locator(f'.jp-OpenSink-answered[data-request-id="{request["id"]}"]')
                await expect(note).to_contain_text(f"Approved by {stored['resolved_by_name']} as proposed")
                await steps.shot("approved-as-proposed")
                (call,) = await receiver.wait_for(1)
                assert call.json["answer"]["decision"] == "approve" and call.json["answer"]["changes"] == []
                await note.get_by_role("button", name="Dismiss").click()
                await expect(note).to_have_count(0)

                # Reject on a form that would not validate: only the decision and the comment are sent
                request = await ask_decision(api, agent, session, "Sell 200 AAPL?")
                card = page.locator(f'form[data-request-id="{request["id"]}"]')
                await card.wait_for()
                await card.locator('input[name="symbol"]').fill("")
                await card.locator('input[name="quantity"]').fill("")
                await card.get_by_role("button", name="Approve", exact=True).click()  # the form cannot be sent
                await expect(card.locator('[data-field="symbol"] .jp-OpenSink-problem')).to_have_text("Symbol: required")
                await card.locator(".jp-OpenSink-comment textarea").fill("Too much at once")
                await card.get_by_role("button", name="Reject", exact=True).click()
                await card.wait_for(state="detached")
                stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
                assert (stored["decision"], stored["comment"], stored["response"]) == ("reject", "Too much at once", None)
                note = page.locator(f'.jp-OpenSink-answered[data-request-id="{request["id"]}"]')
                await expect(note).to_contain_text(f"Rejected by {stored['resolved_by_name']}")
                await expect(note.locator(".jp-OpenSink-comment-shown")).to_have_text("Too much at once")
                await steps.shot("rejected-with-comment")

                # Reply needs words; the server's violations show beside their fields
                request = await ask_decision(api, agent, session, "Sell 300 AAPL?")
                card = page.locator(f'form[data-request-id="{request["id"]}"]')
                await card.wait_for()
                await card.get_by_role("button", name="Reply", exact=True).click()
                comment_problem = card.locator(".jp-OpenSink-comment .jp-OpenSink-problem")
                await expect(comment_problem).to_be_visible()
                await expect(comment_problem).to_contain_text("reply")
                await card.locator('input[name="quantity"]').fill("5000")
                await card.get_by_role("button", name="Approve", exact=True).click()
                await expect(card.locator('[data-field="quantity"] .jp-OpenSink-problem')).to_have_text(
                    "Quantity: must be at most 1000")
                await expect(card.locator(".jp-OpenSink-error")).to_contain_text("does not match the schema")
                await expect(comment_problem).to_be_hidden()
                await steps.shot("reply-needs-words-and-violation-beside-its-field")
                assert (await ok(await api.get(f"/agent-session-input-requests/{request['id']}")))["status"] == "pending"
                await card.locator(".jp-OpenSink-comment textarea").fill("Wait for the close")
                await card.get_by_role("button", name="Reply", exact=True).click()
                await card.wait_for(state="detached")
                stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
                assert (stored["decision"], stored["comment"], stored["response"]) == ("respond", "Wait for the close", None)
                await expect(page.locator(f'.jp-OpenSink-answered[data-request-id="{request["id"]}"]')).to_contain_text(
                    f"Reply from {stored['resolved_by_name']}")
                await steps.shot("replied")
        http.stop()

    run(main())


def test_workspace_browser_sinks_jobs_and_failed_deliveries(lab):
    async def main() -> None:
        receiver, http = start_receiver()
        failing, failing_http = start_receiver()
        failing.status = 500
        async with api_client(lab) as api:
            sink = await ok(await api.post("/sinks", json={"name": "research-notes"}))
            for title in ("Quarterly invoice totals", "Meeting notes", "Supplier list"):
                await ok(await api.post("/sink-items", json={"sink_id": sink["id"], "title": title, "body": "..."}))
            job = await ok(await api.post("/background-jobs", json={
                "name": "nightly-report", "cron": "0 2 * * *", "timezone": "Europe/Paris", "url": receiver.url("/job")}))
            agent, session = await agent_with_session(api, "flaky-bot", failing.url("/agent"))
            request = await ask(api, agent, session, "Go ahead?", {"type": "object", "properties": {}})
            await ok(await api.post(f"/agent-session-input-requests/{request['id']}/resolve", json={"response": {}}))
            await failing.wait_for(1)

            async with open_lab(lab, "workspace-browser") as (page, steps):
                await run_command(page, "opensink:open-browser")
                browser = page.locator("#jp-opensink-browser")
                await browser.locator('.jp-OpenSink-tab[data-view="sinks"]').click()
                await browser.locator(f'tr[data-id="{sink["id"]}"] a').click()
                items = browser.locator(".jp-OpenSink-items li")
                await expect(items).to_have_count(3)
                await expect(items.first).to_contain_text("Supplier list")  # newest first
                await steps.shot("sink-newest-items")
                await browser.locator(".jp-OpenSink-search").fill("invoice")
                await browser.locator(".jp-OpenSink-search").press("Enter")
                await expect(items).to_have_count(1)
                await expect(items.first).to_contain_text("Quarterly invoice totals")
                await steps.shot("sink-search")

                await browser.locator('.jp-OpenSink-tab[data-view="jobs"]').click()
                row = browser.locator(f'tr[data-id="{job["id"]}"]')
                await expect(row).to_contain_text("0 2 * * * (Europe/Paris)")
                assert "disabled" not in await row.inner_text()
                await row.locator('[data-action="trigger"]').click()
                await receiver.wait_for(1)
                runs = browser.locator(".jp-OpenSink-detail tbody tr")
                await expect(runs).to_have_count(1)
                await expect(runs.first).to_contain_text("manual")
                await expect(runs.first).to_contain_text("success")  # redrawn by job.run.finished
                await steps.shot("job-run-history")
                await browser.locator(f'tr[data-id="{job["id"]}"] [data-action="toggle"]').click()
                await expect(browser.locator(f'tr[data-id="{job["id"]}"] [data-action="toggle"]')).to_have_text("Enable")
                assert (await ok(await api.get(f"/background-jobs/{job['id']}")))["enabled"] is False
                await expect(browser.locator(f'tr[data-id="{job["id"]}"]')).to_contain_text("disabled")
                await steps.shot("job-disabled")

                await browser.locator('.jp-OpenSink-tab[data-view="deliveries"]').click()
                failed = browser.locator("tr.jp-OpenSink-failed")
                await expect(failed).to_have_count(1)
                await expect(failed).to_contain_text("500")
                await browser.locator('.jp-OpenSink-tab[data-view="agents"]').click()
                await expect(browser.locator(f'tr[data-id="{agent["id"]}"]')).to_contain_text("failed")
                await expect(browser.locator('.jp-OpenSink-tab[data-view="agents"]')).to_have_text(
                    re.compile(r"Agents \(\d+\)"))  # the count comes from /v1/discovery
                await steps.shot("failed-delivery-and-agent")

                assert (await api.get("/sinks/no-such-sink")).status_code == 404  # a failure for the request log
                await asyncio.sleep(1.5)  # the log is written once a second
                await browser.locator('.jp-OpenSink-tab[data-view="requests"]').click()
                missing = browser.locator("tr.jp-OpenSink-failed", has_text="/v1/sinks/no-such-sink")
                await expect(missing).to_contain_text("404")
                await steps.shot("request-log")
        http.stop()
        failing_http.stop()

    run(main())


def test_notebook_widget_resolves_in_the_browser(lab):
    async def main() -> None:
        receiver, http = start_receiver()
        async with api_client(lab) as api:
            agent, session = await agent_with_session(api, "notebook-bot", receiver.url("/agent"))
            schema = {"type": "object", "properties": {"approved": {"type": "boolean"}, "note": {"type": "string"}}}
            request = await ask(api, agent, session, "Ship the release?", schema)
            await put_notebook(api, lab, "opensink-inbox.ipynb",
                               ["import jupyter_opensink\njupyter_opensink.inbox()"])

            async with open_lab(lab, "notebook-widget", "lab/tree/opensink-inbox.ipynb") as (page, steps):
                await kernel_ready(page)
                # and the status bar says so
                await expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible()
                await answer_the_inbox_widget(page, steps, api, receiver, request)
        http.stop()

    run(main())


def test_without_the_server_extension_the_panels_explain_why(lab_without_opensink):
    async def main() -> None:
        async with open_lab(lab_without_opensink, "server-extension-disabled") as (page, steps):
            await page.click(INBOX_TAB)
            message = page.locator("#jp-opensink-inbox .jp-OpenSink-disabled")
            await expect(message).to_contain_text("server extension is not enabled")
            await run_command(page, "opensink:open-browser")
            await expect(page.locator("#jp-opensink-browser .jp-OpenSink-disabled")).to_contain_text(
                "jupyter server extension enable jupyter_opensink")
            await steps.shot("clear-message")

    run(main())



def test_api_docs_page_renders_every_operation_offline(lab):
    async def main() -> None:
        async with api_client(lab) as api:
            spec = await ok(await api.get("/openapi.json"))
        operations = sum(len(methods) for methods in spec["paths"].values())
        requests: list[str] = []
        async with open_lab(lab, "api-docs", "opensink/docs", requests) as (page, steps):
            blocks = page.locator(".swagger-ui .opblock")
            await expect(blocks).to_have_count(operations, timeout=60_000)
            await expect(page.locator(".swagger-ui .info .title")).to_contain_text("jupyter_opensink")
            await steps.shot("docs")
            await page.locator(".opblock-summary", has_text="/v1/sinks").first.click()
            await expect(page.locator(".opblock-body").first).to_be_visible()
            await steps.shot("docs-operation-open")
        origin = lab.url.split("/jp/")[0]
        assert requests and all(url.startswith(origin) for url in requests), requests
        assert any(url.endswith("/openapi.json") for url in requests)

    run(main())
