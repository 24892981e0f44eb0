"""Notebook 7 (``jupyter notebook``) in a real browser: the Agent inbox side panel, the inbox widget, and a
question answered in its own cell."""

from __future__ import annotations

import importlib.util

import pytest
from playwright.async_api import expect

from ..receivers import start_receiver
from ..servers import start_server
from .conftest import front_end_env, kernel_ready, open_lab, put_notebook, run
from .test_ask_in_cell import ASK_AND_PRINT, approve_in_the_cell
from .test_lab import (HOSTILE_CONTEXT, PROPOSAL, agent_with_session, answer_the_inbox_widget, api_client, ask,
                       ask_decision, ok, run_command)

# Notebook 7.6's own shortcuts plugin throws this at start when a plugin's settings change before they are
# loaded (it reads `plugins[id].schema` of a plugin not loaded yet); it happens with no extension installed.
NOTEBOOK_SHORTCUTS_BUG = ("Cannot read properties of undefined (reading 'schema')",)
APPROVE = {"type": "object", "required": ["approved"],
           "properties": {"approved": {"type": "boolean", "title": "Approve"},
                          "note": {"type": "string", "title": "Note"}}}


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory):
    if importlib.util.find_spec("notebook") is None:
        pytest.fail("Notebook 7 tests need the notebook package (in the test extra: pip install -e '.[test]')",
                    pytrace=False)
    base = tmp_path_factory.mktemp("notebook7")
    env = front_end_env(base)
    running = start_server(base / "work", base / "db", "--OpenSinkApp.fsync=never",
                           "--JupyterNotebookApp.expose_app_in_browser=True", app="notebook", env=env)
    yield running
    running.stop()


async def started(page) -> None:
    await page.wait_for_function("window.jupyterapp && window.jupyterapp.started !== undefined", timeout=60_000)
    await page.evaluate("window.jupyterapp.started")


def test_agent_inbox_panel_in_notebook7(notebook7):
    """The labextension's plugin loads in Notebook 7 (it needs no JupyterLab-only service): its inbox opens
    as a side panel, a new request arrives by the event stream, is answered there, and the agent is called;
    a request with a proposal shows its context through Notebook 7's renderers, sanitized, and is approved
    as proposed."""
    async def main() -> None:
        receiver, http = start_receiver()
        async with api_client(notebook7) as api:
            agent, session = await agent_with_session(api, "nb7-bot", receiver.url("/agent"))
            async with open_lab(notebook7, "notebook7-inbox", "tree",
                                 known_errors=NOTEBOOK_SHORTCUTS_BUG) as (page, steps):
                await started(page)
                plugins = await page.evaluate("window.jupyterapp.hasPlugin('jupyter-opensink:plugin')")
                assert plugins, "the plugin is not registered in Notebook 7"
                await run_command(page, "opensink:open-inbox")
                panel = page.locator("#jp-opensink-inbox")
                await expect(panel.locator(".jp-OpenSink-count")).to_have_text("0 pending requests", timeout=30_000)
                await steps.shot("inbox-open")

                request = await ask(api, agent, session, "Restart the nightly job?", APPROVE)
                card = panel.locator(f'form[data-request-id="{request["id"]}"]')
                await card.wait_for(timeout=30_000)
                await expect(card).to_contain_text("agent nb7-bot")
                await steps.shot("request-arrived")
                await card.locator('input[name="approved"]').check()
                await card.locator('input[name="note"]').fill("go ahead")
                await card.get_by_role("button", name="Submit").click()
                await card.wait_for(state="detached")
                await steps.shot("resolved")

                stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
                assert stored["status"] == "resolved"
                assert stored["response"] == {"approved": True, "note": "go ahead"}
                (call,) = await receiver.wait_for(1)
                assert call.json["request_id"] == request["id"] and call.json["session_id"] == session["id"]

                request = await ask_decision(api, agent, session, "Sell 100 AAPL?", context=HOSTILE_CONTEXT)
                card = panel.locator(f'form[data-request-id="{request["id"]}"]')
                await card.wait_for(timeout=30_000)
                await expect(card.locator('input[name="quantity"]')).to_have_value("100")
                items = card.locator(".jp-OpenSink-context-item")
                await expect(items.nth(0).locator(".jp-RenderedHTMLCommon p.why")).to_have_text(
                    "Earnings beat expectations")
                await expect(items.nth(1).locator('img[src^="data:image/svg+xml"]')).to_be_visible()
                await expect(items.nth(2).locator('img[src^="data:image/png;base64,"]')).to_be_visible()
                assert await card.locator("script, [onerror], [onload]").count() == 0
                await page.wait_for_timeout(1000)  # time for a broken image's onerror, had it survived
                assert await page.evaluate("window.__pwned") is None
                await steps.shot("proposal-and-context")
                await card.get_by_role("button", name="Approve", exact=True).click()
                await card.wait_for(state="detached")
                stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
                assert (stored["decision"], stored["changes"], stored["response"]) == ("approve", [], PROPOSAL)
                await expect(panel.locator(f'.jp-OpenSink-answered[data-request-id="{request["id"]}"]')).to_contain_text(
                    f"Approved by {stored['resolved_by_name']} as proposed")
                await steps.shot("approved-as-proposed")
        http.stop()

    run(main())


def test_inbox_widget_in_notebook7(notebook7):
    """``jupyter_opensink.inbox()`` in a Notebook 7 notebook: the request is answered in the widget and the
    agent is called."""
    async def main() -> None:
        receiver, http = start_receiver()
        async with api_client(notebook7) as api:
            agent, session = await agent_with_session(api, "nb7-widget-bot", receiver.url("/agent"))
            request = await ask(api, agent, session, "Ship the release?", APPROVE)
            await put_notebook(api, notebook7, "nb7-inbox.ipynb",
                               ["import jupyter_opensink\njupyter_opensink.inbox()"])
            async with open_lab(notebook7, "notebook7-widget", "notebooks/nb7-inbox.ipynb",
                                 known_errors=NOTEBOOK_SHORTCUTS_BUG) as (page, steps):
                await started(page)
                await kernel_ready(page)
                await answer_the_inbox_widget(page, steps, api, receiver, request, left_within=30_000)
        http.stop()

    run(main())


def test_question_answered_in_its_cell_in_notebook7(notebook7):
    """``Client().ask`` in a Notebook 7 cell: the form in that cell's output approves, and the next cell
    reads the decision."""
    async def main() -> None:
        async with api_client(notebook7) as api:
            await put_notebook(api, notebook7, "nb7-ask.ipynb", ASK_AND_PRINT[:2])
            async with open_lab(notebook7, "notebook7-ask", "notebooks/nb7-ask.ipynb",
                                 known_errors=NOTEBOOK_SHORTCUTS_BUG) as (page, steps):
                await started(page)
                await kernel_ready(page)
                await approve_in_the_cell(page, steps, api)
                await run_command(page, "kernelmenu:shutdown")

    run(main())
