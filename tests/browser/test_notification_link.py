"""The approval link a notification mails out answers the request in a real browser: the way a person on
their phone answers, with no Jupyter login and no JavaScript."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from playwright.async_api import expect

from ..mail import start_mailbox, text_of
from ..receivers import start_receiver
from ..servers import start_server
from .conftest import open_link_page, run
from .test_lab import PROPOSAL, agent_with_session, api_client, ask_decision, ok


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Jupyter server of its own (the page needs no JupyterLab)."""
    base = tmp_path_factory.mktemp("notify-link")
    running = start_server(base / "work", base / "db", "--OpenSinkApp.fsync=never")
    yield running
    running.stop()


def test_the_link_in_the_mail_opens_the_page_and_answers_the_request(server):
    box, smtp = start_mailbox()

    async def main() -> None:
        receiver, http = start_receiver()
        try:
            async with api_client(server) as api:
                await ok(await api.post("/notification-channels", json={"name": "desk mail", "url": box.url()}))
                agent, session = await agent_with_session(api, "trade-bot", receiver.url("/agent"))
                request = await ask_decision(api, agent, session, "Sell 100 AAPL?")
                deadline = time.monotonic() + 20
                while not box.messages:
                    assert time.monotonic() < deadline, "the notification mail never arrived"
                    await asyncio.sleep(0.05)
                text = text_of(box.messages[0])
                assert "trade-bot asks: Sell 100 AAPL?" in text and "quantity: 100" in text
                link = re.search(r"Answer here: (\S+)", text).group(1)
                # A phone's browser: no Jupyter cookie or token, and no JavaScript.
                async with open_link_page("notification-link", width=420, height=900) as (page, steps):
                    await page.goto(link)
                    await expect(page.locator("h1")).to_have_text("Sell 100 AAPL?")
                    await steps.shot("opened-from-mail")
                    await page.get_by_role("button", name="Approve").click()
                    await expect(page.locator("h1")).to_contain_text("Approved")
                    await steps.shot("answered")
                stored = await ok(await api.get(f"/agent-session-input-requests/{request['id']}"))
                assert stored["status"] == "resolved" and stored["decision"] == "approve"
                assert stored["resolved_by"].startswith("link:") and stored["response"] == PROPOSAL
                (call,) = await receiver.wait_for(1)
                assert call.json["answer"]["decision"] == "approve"
        finally:
            http.stop()

    try:
        run(main())
    finally:
        smtp.stop()
