"""One decision, seen in each surface a person answers in: the JupyterLab inbox, the notebook widget and
the approval page, each showing the agent's proposal and evidence. The screenshots it saves
(test-artifacts/decision-flow/) are the ones the docs show (docs/_static/screenshots/)."""

from __future__ import annotations


from playwright.async_api import expect

from ..receivers import start_receiver
from .conftest import kernel_ready, open_lab, put_notebook, run
from .test_lab import INBOX_TAB, agent_with_session, api_client, ok

PRICES = [181.2, 182.0, 180.7, 183.9, 185.1, 184.6, 187.3]
VEGALITE = "application/vnd.vegalite.v5+json"
#: A chart JupyterLab's own renderer draws (in the inbox and in the widget's output).
CHART = ".jp-RenderedVegaCommon5 canvas, .jp-RenderedVegaCommon5 svg"
SCHEMA = {"type": "object", "required": ["symbol", "quantity"], "properties": {
    "symbol": {"type": "string", "title": "Symbol"},
    "quantity": {"type": "integer", "title": "Quantity", "minimum": 1, "maximum": 1000},
    "order_type": {"type": "string", "title": "Order type", "enum": ["market", "limit"]}}}


def evidence() -> list[dict]:
    low, high = min(PRICES), max(PRICES)
    points = " ".join(f"{10 + i * 40},{100 - (p - low) / (high - low) * 80:.0f}" for i, p in enumerate(PRICES))
    chart = (f'<svg xmlns="http://www.w3.org/2000/svg" width="270" height="110" viewBox="0 0 270 110">'
             f'<rect width="270" height="110" fill="#f8fafc"/>'
             f'<polyline points="{points}" fill="none" stroke="#1a73e8" stroke-width="3"/></svg>')
    table = ("<table><thead><tr><th>day</th><th>close</th><th>volume</th></tr></thead><tbody>"
             + "".join(f"<tr><td>Dec {day}</td><td>{price}</td><td>{40 + day}M</td></tr>"
                       for day, price in enumerate(PRICES, 1)) + "</tbody></table>")
    return [{"title": "Last 7 closes", "data": {"image/svg+xml": chart}},
            {"title": "The numbers", "data": {"text/html": table}},
            {"title": "Why", "data": {"text/markdown": "Seven days of higher closes, up **3.4%**; volume rising."}},
            {"title": "Closes as a chart", "data": {VEGALITE: {
                "data": {"values": [{"day": day, "close": price} for day, price in enumerate(PRICES, 1)]},
                "mark": "line", "width": 240, "height": 80,
                "encoding": {"x": {"field": "day", "type": "ordinal"},
                             "y": {"field": "close", "type": "quantitative", "scale": {"zero": False}}}},
                "text/plain": "Closes rose from 181.2 to 187.3 over seven days."}}]


async def open_in_lab(page, lab, path: str) -> None:
    """``path`` of JupyterLab in a fresh layout (reset: no tabs another test left open), once it has started."""
    await page.goto(lab.url.removesuffix("opensink") + f"{path}?reset&token={lab.token}")
    await page.wait_for_function("window.jupyterapp && window.jupyterapp.started !== undefined", timeout=60_000)
    await page.evaluate("window.jupyterapp.started")
    await page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)


async def save_form_notebook(api, lab, name: str, request_id: str) -> None:
    """A notebook whose one cell draws the request's form in the widget, saved as ``name``."""
    source = ("from jupyter_opensink.client import Client\n"
              "from jupyter_opensink.widgets import RequestForm\n"
              "client = Client()\n"
              f"RequestForm(client.input_requests.get({request_id!r}), client)")
    await put_notebook(api, lab, name, [source])


async def run_the_notebook(page) -> None:
    """Once the open notebook's kernel is idle (its kernel chosen, if JupyterLab asks), run all its cells."""
    await kernel_ready(page)
    await page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def test_one_decision_in_every_surface(lab):
    async def main() -> None:
        receiver, http = start_receiver()
        async with api_client(lab) as api:
            agent, session = await agent_with_session(api, "trade desk", receiver.url("/agent"))
            request = await ok(await api.post("/agent-session-input-requests", json={
                "session_id": session["id"], "agent_id": agent["id"], "key": "trade", "title": "Buy AAPL?",
                "message": "I propose a market order for 100 shares.", "schema": SCHEMA,
                "defaults": {"symbol": "AAPL", "quantity": 100, "order_type": "market"},
                "decisions": ["approve", "reject", "respond"], "context": evidence()}))
            link = await ok(await api.post(f"/agent-session-input-requests/{request['id']}/links", json={}))

            async with open_lab(lab, "decision-flow") as (page, steps):
                # the approval page, as a phone would open it
                await page.set_viewport_size({"width": 900, "height": 1100})
                await page.goto(link["url"])
                await expect(page.get_by_role("button", name="Approve")).to_be_visible()
                # the page draws no chart (that needs a script): the chart's own text stands in for it
                await expect(page.get_by_text("Closes rose from 181.2 to 187.3")).to_be_visible()
                await page.screenshot(path=str(steps.folder / "approval-page.png"), full_page=True)
                await page.set_viewport_size({"width": 1400, "height": 900})

                # the JupyterLab inbox
                await open_in_lab(page, lab, "lab")
                inbox = page.locator("#jp-opensink-inbox")
                if not await inbox.is_visible():  # JupyterLab may have restored it open
                    await page.locator(INBOX_TAB).click()
                card = page.locator(f'form[data-request-id="{request["id"]}"]')
                await expect(card.locator('input[name="quantity"]')).to_have_value("100", timeout=60_000)
                await expect(card.locator(CHART).first).to_be_visible(timeout=30_000)
                await expect(card.locator("table td").first).to_have_text("Dec 1")
                await page.locator("#jp-opensink-inbox").screenshot(path=str(steps.folder / "lab-inbox.png"))

                # the notebook widget: the person halves the quantity and approves
                await save_form_notebook(api, lab, "decide.ipynb", request["id"])
                await open_in_lab(page, lab, "lab/tree/decide.ipynb")
                await run_the_notebook(page)
                output = page.locator(".jp-OutputArea-output")
                approve = output.get_by_role("button", name="Approve")
                await expect(approve).to_be_visible(timeout=90_000)
                quantity = output.locator(".widget-text input").nth(1)
                await expect(quantity).to_have_value("100")
                # the evidence drawn by the notebook's own renderers: the chart, the table as an output
                await expect(output.locator(CHART).first).to_be_visible(timeout=30_000)
                await expect(output.locator(".jp-RenderedHTMLCommon table td").first).to_have_text("Dec 1")
                await quantity.fill("50")
                await page.set_viewport_size({"width": 1100, "height": 1700})
                await page.locator(".jp-Cell-outputArea").first.screenshot(path=str(steps.folder / "notebook-widget.png"))
                await approve.click()
                await expect(output.get_by_text("Approved by")).to_be_visible(timeout=10_000)
                await page.locator(".jp-Cell-outputArea").first.screenshot(
                    path=str(steps.folder / "notebook-widget-approved.png"))
                await page.evaluate("() => { void window.jupyterapp.commands.execute('kernelmenu:shutdown'); }")

            stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
            assert stored["decision"] == "approve"
            assert stored["changes"] == [{"op": "replace", "path": "/quantity", "value": 50}]
            (call,) = await receiver.wait_for(1)
            assert call.json["answer"]["changes"] == stored["changes"]
        http.stop()

    run(main())


HOSTILE = [{"title": "Notes", "data": {"text/html": (
    '<p>Volume is <b>high</b><script>window.__pwned = "script"</script>'
    '<img src="x" onerror="window.__pwned = \'onerror\'">'
    '<a href="javascript:window.__pwned=\'link\'">details</a></p>')}},
           {"title": "Drawing", "data": {"image/svg+xml": (
               '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" onload="window.__pwned=\'svg\'">'
               '<script>window.__pwned = "svg script"</script><rect width="20" height="20" fill="green"/></svg>')}}]


def test_the_widget_runs_no_script_of_a_request(lab):
    """Evidence in the notebook widget, in a real browser: its safe part shows, and nothing of it runs or
    loads (the Lab inbox and the approval page have the same check in their own tests)."""
    async def main() -> None:
        tracker, http = start_receiver()
        hostile = [*HOSTILE, {"title": "Tracked chart", "data": {
            VEGALITE: {"data": {"url": tracker.url("/chart.csv")}, "mark": "bar",
                       "transform": [{"calculate": "datum.a * 2", "as": "b"}]},
            "text/plain": "a chart that would load its data"}}]
        async with api_client(lab) as api:
            agent = await ok(await api.post("/agents", json={"name": "hostile"}))
            session = await ok(await api.post("/agent-sessions", json={"agent_id": agent["id"]}))
            request = await ok(await api.post("/agent-session-input-requests", json={
                "session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "Look?",
                "message": "m", "schema": {"type": "object", "properties": {}}, "decisions": ["approve"],
                "context": hostile}))
            await save_form_notebook(api, lab, "hostile.ipynb", request["id"])
            async with open_lab(lab, "widget-hostile", "lab/tree/hostile.ipynb") as (page, steps):
                await run_the_notebook(page)
                output = page.locator(".jp-OutputArea-output")
                await expect(output.get_by_role("button", name="Approve")).to_be_visible(timeout=90_000)
                await expect(output.get_by_text("Volume is")).to_be_visible()
                await page.wait_for_timeout(500)  # time for anything that would run
                assert await page.evaluate("() => window.__pwned") is None
                assert await output.locator("script").count() == 0
                assert await output.locator("[onerror], [onload], a[href^='javascript:']").count() == 0
                # the chart that would load and evaluate is not drawn: its text stands in, nothing was fetched
                await expect(output.get_by_text("a chart that would load its data")).to_be_visible()
                assert await output.locator(".jp-RenderedVegaCommon5").count() == 0
                assert tracker.calls == []
                await steps.shot("sanitized")
                await page.evaluate("() => { void window.jupyterapp.commands.execute('kernelmenu:shutdown'); }")
        http.stop()

    run(main())
