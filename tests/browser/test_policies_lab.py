"""Approve and remember in the JupyterLab inbox, and the remembered policy in the workspace browser (time left,
delete), in a real JupyterLab and browser."""

from __future__ import annotations


from playwright.async_api import expect

from .conftest import open_lab, run
from .test_lab import INBOX_TAB, PROPOSAL, agent_with_session, api_client, ask_decision, ok, run_command
from ..receivers import start_receiver


def test_approve_and_remember_in_the_inbox_then_delete_the_policy_in_the_browser(lab):
    async def main() -> None:
        receiver, http = start_receiver()
        async with api_client(lab) as api:
            agent, session = await agent_with_session(api, "remembering-bot", receiver.url("/agent"))
            async with open_lab(lab, "approve-and-remember") as (page, steps):
                await page.click(INBOX_TAB)
                request = await ask_decision(api, agent, session, "Sell 100 AAPL again?")
                card = page.locator(f'form[data-request-id="{request["id"]}"]')
                await card.wait_for()
                remember = card.locator(".jp-OpenSink-remember")
                await expect(remember).to_contain_text("Remember")
                await expect(remember.locator("select option")).to_have_text(
                    ["for an hour", "for a day", "for a week"])
                await remember.locator("input[type=checkbox]").check()
                await remember.locator("select").select_option(label="for a week")
                await steps.shot("remember-checked")
                await card.get_by_role("button", name="Approve", exact=True).click()
                await card.wait_for(state="detached")

                policies = (await ok(await api.get("/approval-policies", params={"agent_id": agent["id"]})))["items"]
                (policy,) = policies
                assert (policy["remembered_from"], policy["request_key"], policy["decision"]) == (
                    request["id"], "trade", "approve")
                assert policy["when"]["properties"]["defaults"]["const"] == PROPOSAL
                again = await ask_decision(api, agent, session, "Sell 100 AAPL once more?")
                assert again["status"] == "resolved" and again["resolved_by"] == f"policy:{policy['id']}"

                await run_command(page, "opensink:open-browser")
                browser = page.locator("#jp-opensink-browser")
                await browser.locator('.jp-OpenSink-tab[data-view="policies"]').click()
                row = browser.locator(f'tr[data-id="{policy["id"]}"]')
                await expect(row).to_contain_text("Remembered: Sell 100 AAPL again?")
                await expect(row).to_contain_text("remembering-bot")
                await expect(row.locator(".jp-OpenSink-time-left")).to_have_text("6 d 23 h left")
                await steps.shot("policy-listed")
                await row.locator('[data-action="delete"]').click()
                await expect(row).to_have_count(0)
                await steps.shot("policy-deleted")
                assert (await ok(await api.get("/approval-policies", params={"agent_id": agent["id"]})))["items"] == []
                third = await ask_decision(api, agent, session, "Sell 100 AAPL a third time?")
                assert third["status"] == "pending"  # no policy now: a person decides
                await ok(await api.post(f"/agent-session-input-requests/{third['id']}/resolve",
                                        json={"decision": "reject", "comment": "enough"}))
        http.stop()

    run(main())
