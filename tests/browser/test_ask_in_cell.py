"""``Client().ask`` in a notebook cell of a real JupyterLab: the question is drawn as a form in that cell's
output (the kernel is busy waiting, so the form answers over HTTP), answered there or anywhere else; and a
notebook agent whose kernel restarted is marked offline in the inbox and the workspace browser."""

from __future__ import annotations


from playwright.async_api import expect

from .conftest import kernel_ready, open_lab, put_notebook, run
from .test_lab import INBOX_TAB, api_client, ok, run_command

ASK_AND_PRINT = [
    "from jupyter_opensink.client import Client\nanswer = Client().ask(\"Deploy?\", timeout=120)",
    "print('decision:', answer.decision)",
    # No answer within 3 s: ask gives up waiting, the request stays open and its output with it.
    "try:\n    Client().ask(\"Scale up?\", timeout=3)\nexcept TimeoutError:\n    print('gave up waiting')",
]
SERVE_AGENT = [
    "from jupyter_opensink.agent import NotebookAgent\nbot = NotebookAgent('offline-bot', lambda call: None)\n"
    "bot.serve()\nprint('serving', bot.agent_id)",
]


def cell_output(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea")


async def approve_in_the_cell(page, steps, api) -> None:
    """Runs ``ASK_AND_PRINT``'s first two cells: approves "Deploy?" in the first cell's output and checks
    what the next cell prints, what was stored, and the output once answered."""
    await run_command(page, "notebook:run-all-cells")
    output = cell_output(page, 0)
    form = output.locator(".jp-OpenSink-cell-question form.jp-OpenSink-request")
    await expect(form).to_be_visible(timeout=60_000)
    await expect(form.locator("h3")).to_have_text("Deploy?")
    await expect(form.get_by_role("button", name="Reject", exact=True)).to_be_visible()
    await steps.shot("question-in-its-cell")
    request_id = await form.get_attribute("data-request-id")
    assert (await ok(await api.get(f"/agent-session-input-requests/{request_id}")))["status"] == "pending"

    await form.get_by_role("button", name="Approve", exact=True).click()
    await expect(cell_output(page, 1)).to_contain_text("decision: approve", timeout=30_000)
    stored = await ok(await api.get(f"/agent-session-input-requests/{request_id}"))
    assert (stored["status"], stored["decision"]) == ("resolved", "approve")
    answered = output.locator(f'.jp-OpenSink-answered[data-request-id="{request_id}"]')
    await expect(answered).to_contain_text(f"Approved by {stored['resolved_by_name']}")
    await expect(output.locator("form")).to_have_count(0)
    await steps.shot("approved-in-its-cell")


def test_the_question_is_answered_in_its_cell_and_follows_answers_given_elsewhere(lab):
    async def main() -> None:
        async with api_client(lab) as api:
            await put_notebook(api, lab, "ask-in-cell.ipynb", ASK_AND_PRINT)
            async with open_lab(lab, "ask-in-cell", "lab/tree/ask-in-cell.ipynb") as (page, steps):
                await kernel_ready(page)
                await approve_in_the_cell(page, steps, api)

                # "Scale up?": ask stops waiting, the question stays in its output, and is answered over HTTP.
                output = cell_output(page, 2)
                await expect(output).to_contain_text("gave up waiting", timeout=30_000)
                form = output.locator("form.jp-OpenSink-request")
                await expect(form.locator("h3")).to_have_text("Scale up?")
                request_id = await form.get_attribute("data-request-id")
                await steps.shot("left-waiting")
                resolved = await ok(await api.post(f"/agent-session-input-requests/{request_id}/resolve",
                                                   json={"decision": "reject", "comment": "not tonight"}))
                answered = output.locator(f'.jp-OpenSink-answered[data-request-id="{request_id}"]')
                await expect(answered).to_contain_text(f"Rejected by {resolved['resolved_by_name']}", timeout=10_000)
                await expect(answered.locator(".jp-OpenSink-comment-shown")).to_have_text("not tonight")
                await expect(output.locator("form")).to_have_count(0)
                await steps.shot("answered-elsewhere")
                await run_command(page, "kernelmenu:shutdown")

    run(main())


def test_an_offline_notebook_agent_is_marked_in_the_inbox_and_the_browser(lab):
    """A notebook agent registered by its kernel goes offline when that kernel restarts: its pending request
    in the inbox says its answer will wait, and the workspace browser marks the agent."""
    async def main() -> None:
        async with api_client(lab) as api:
            await put_notebook(api, lab, "offline-agent.ipynb", SERVE_AGENT)
            async with open_lab(lab, "offline-agent", "lab/tree/offline-agent.ipynb") as (page, steps):
                await kernel_ready(page)
                await run_command(page, "notebook:run-all-cells")
                await expect(cell_output(page, 0)).to_contain_text("serving", timeout=60_000)
                agent = next(a for a in (await ok(await api.get("/agents")))["items"] if a["name"] == "offline-bot")
                assert agent["kernel_id"] and not agent["offline"]
                session = await ok(await api.post("/agent-sessions", json={"agent_id": agent["id"]}))
                request = await ok(await api.post("/agent-session-input-requests", json={
                    "session_id": session["id"], "agent_id": agent["id"], "key": "go", "title": "Go ahead?", "message": "Once the kernel is back.",
                    "schema": {"type": "object", "properties": {}}, "decisions": ["approve", "reject"]}))

                await page.click(INBOX_TAB)
                card = page.locator(f'#jp-opensink-inbox form[data-request-id="{request["id"]}"]')
                await card.wait_for(timeout=30_000)
                marker = card.locator(".jp-OpenSink-offline")
                await expect(marker).to_be_hidden()

                root = lab.url.removesuffix("opensink")
                restarted = await api.post(f"{root}api/kernels/{agent['kernel_id']}/restart")
                assert restarted.status_code == 200, restarted.text
                await expect(marker).to_be_visible(timeout=20_000)  # the server looks at kernels every 2 s
                await expect(marker).to_have_text(
                    "the notebook agent 'offline-bot' is offline: its answer will wait until its cell runs again")
                assert (await ok(await api.get(f"/agents/{agent['id']}")))["offline"] is True
                await steps.shot("offline-in-the-inbox")

                await run_command(page, "opensink:open-browser")
                row = page.locator(f'#jp-opensink-browser tr[data-id="{agent["id"]}"]')
                await expect(row.locator(".jp-OpenSink-offline-tag")).to_have_text("offline", timeout=20_000)
                await steps.shot("offline-in-the-browser")
                await run_command(page, "kernelmenu:shutdown")

    run(main())


def test_a_question_in_an_untrusted_notebook_shows_as_text(lab):
    """The renderer acts as the person (a click answers a request), so a notebook they did not run or trust
    shows the output's plain text, never a form."""
    async def main() -> None:
        async with api_client(lab) as api:
            agent = await ok(await api.post("/agents", json={"name": "elsewhere"}))
            session = await ok(await api.post("/agent-sessions", json={"agent_id": agent["id"]}))
            request = await ok(await api.post("/agent-session-input-requests", json={
                "session_id": session["id"], "agent_id": agent["id"], "key": "wire", "title": "Wire the money?",
                "message": "From someone else's notebook.", "schema": {"type": "object", "properties": {}},
                "decisions": ["approve", "reject"]}))
            saved = {"output_type": "display_data", "metadata": {}, "data": {
                "application/vnd.opensink.input-request+json": {"request": request, "link": None},
                "text/plain": "Waiting for an answer to 'Wire the money?'"}}
            await put_notebook(api, lab, "untrusted.ipynb", ["print('not run')"], outputs=[saved])
            async with open_lab(lab, "ask-untrusted", "lab/tree/untrusted.ipynb") as (page, steps):
                output = cell_output(page, 0)
                await expect(output).to_contain_text("Waiting for an answer to 'Wire the money?'", timeout=60_000)
                await expect(output.locator(".jp-OpenSink-cell-question")).to_have_count(0)
                await steps.shot("untrusted-as-text")
                # Trusting the notebook draws the form.
                await page.locator(".jp-Notebook").click()
                await run_command(page, "notebook:trust")
                dialog = page.locator(".jp-Dialog")
                await dialog.get_by_role("button", name="Trust").click(timeout=10_000)
                await expect(output.locator(f'form[data-request-id="{request["id"]}"]')).to_be_visible(timeout=10_000)
                await steps.shot("trusted-as-form")
                await kernel_ready(page)  # the notebook started one: shut it down once it is up
                await run_command(page, "kernelmenu:shutdown")

    run(main())
