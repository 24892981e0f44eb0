"""Notifications in JupyterLab: the opt-in desktop notification for a request arriving while Lab is in the
background, and the workspace browser listing failed notification attempts."""

from __future__ import annotations

import time

import httpx
from playwright.async_api import expect

from ..servers import free_port
from .conftest import open_lab, run
from .test_lab import agent_with_session, api_client, ask, ok, run_from_palette

#: Records every desktop notification the page makes (the browser's own would show nothing headless).
RECORD_DESKTOP = """() => {
  const Real = window.Notification;
  window.__desktop = [];
  class Recorder extends Real {
    constructor(title, options) { window.__desktop.push(title); super(title, options); }
  }
  Object.defineProperty(Recorder, 'permission', { get: () => Real.permission });
  Recorder.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorder;
  document.hasFocus = () => false;  // Lab is open, but another window is in front
}"""


def test_desktop_notifications_are_opt_in_and_the_browser_lists_failed_attempts(lab):
    import asyncio

    settings_url = lab.url.removesuffix("opensink") + "lab/api/settings/jupyter-opensink:plugin"
    token = {"Authorization": f"token {lab.token}"}

    async def main() -> None:
        async with api_client(lab) as api:
            channel = await ok(await api.post("/notification-channels", json={
                "name": "broken pager", "url": f"json://127.0.0.1:{free_port()}/page"}))
            try:
                agent, session = await agent_with_session(api, "pager-bot", f"http://127.0.0.1:{free_port()}/agent")
                async with open_lab(lab, "notifications-lab") as (page, steps):
                    await page.context.grant_permissions(["notifications"])
                    await page.evaluate(RECORD_DESKTOP)
                    before = await ask(api, agent, session, "Before opting in", {"type": "object"})
                    await expect(page.locator(".jp-Notification-Toast, .Toastify__toast").filter(
                        has_text="Before opting in")).to_be_visible(timeout=15_000)
                    assert await page.evaluate("window.__desktop") == []  # off until the person opts in
                    await page.evaluate("window.jupyterapp.commands.execute('opensink:enable-desktop-notifications')")
                    await expect(page.locator(".Toastify__toast").filter(
                        has_text="Desktop notifications are on")).to_be_visible(timeout=10_000)
                    after = await ask(api, agent, session, "After opting in", {"type": "object"})
                    await page.wait_for_function(
                        "window.__desktop.some(t => t.includes('After opting in'))", timeout=15_000)
                    await steps.shot("desktop-notification-made")
                    stored = httpx.get(settings_url, headers=token, timeout=30).json()
                    assert stored["settings"]["desktopNotifications"] is True, stored  # kept in Lab's settings

                    deadline = time.monotonic() + 20
                    while True:  # both requests' first attempts failed (nothing listens at the pager's port)
                        failed = (await ok(await api.get("/notification-deliveries", params={
                            "channel_id": channel["id"], "ok": "false"})))["items"]
                        if {d["request_id"] for d in failed} >= {before["id"], after["id"]}:
                            break
                        assert time.monotonic() < deadline, failed
                        await asyncio.sleep(0.2)
                    await run_from_palette(page, "Open the agent workspace browser")
                    browser = page.locator(".jp-OpenSink-browser")
                    await browser.locator('.jp-OpenSink-tab[data-view="deliveries"]').click()
                    rows = browser.locator(".jp-OpenSink-notifications tr.jp-OpenSink-failed")
                    await expect(rows.filter(has_text="broken pager").first).to_be_visible(timeout=15_000)
                    await expect(browser.locator(".jp-OpenSink-notifications h3")).to_contain_text("failed")
                    await steps.shot("failed-notifications-listed")
            finally:
                httpx.put(settings_url, json={"raw": "{}"}, headers=token, timeout=30)  # as the next test expects
                await api.delete(f"/notification-channels/{channel['id']}")
                await api.delete(f"/agent-sessions/{session['id']}")

    run(main())
