"""A real JupyterLab with the extension, driven by headless Chromium through Playwright.

Chromium is Debian's package (``/usr/bin/chromium``; ``.ci/run`` installs it);
Playwright only drives it. Screenshots of every step land in
``$OPENSINK_TEST_ARTIFACTS`` (default ``test-artifacts/``) so a failure can be seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest

from ..servers import RunningServer, start_server

CHROMIUM = os.environ.get("OPENSINK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("OPENSINK_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))

BUILT_LABEXTENSION = Path(__file__).parents[2] / "jupyter_opensink" / "labextension"


def front_end_env(base: Path) -> dict[str, str]:
    """Settings and workspaces under ``base`` (and no news prompt over the page); and, when this checkout
    has a built labextension (``jupyter_opensink/labextension``, git-ignored), a ``JUPYTER_PATH`` that
    serves it ahead of the installed one, so the browser tests test the TypeScript of this checkout."""
    settings = base / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = {"JUPYTERLAB_SETTINGS_DIR": str(base / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(base / "lab-workspaces")}
    if (BUILT_LABEXTENSION / "package.json").exists():
        shutil.copytree(BUILT_LABEXTENSION, base / "jupyter-path" / "labextensions" / "jupyter-opensink")
        env["JUPYTER_PATH"] = str(base / "jupyter-path")
    return env


def lab_server(base: Path, *extra: str, env: dict[str, str] | None = None, **kwargs) -> RunningServer:
    """JupyterLab with the environment of ``front_end_env``."""
    env = {**front_end_env(base), **(env or {})}
    return start_server(base / "work", base / "db", "--OpenSinkApp.fsync=never",
                        "--LabApp.expose_app_in_browser=True", *extra, app="lab", env=env, **kwargs)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    running = lab_server(tmp_path_factory.mktemp("lab"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def lab_without_opensink(tmp_path_factory):
    """JupyterLab whose server has the OpenSink server extension switched off (the labextension stays)."""
    base = tmp_path_factory.mktemp("lab-off")
    config = base / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_opensink": False}}}))
    running = lab_server(base, env={"JUPYTER_CONFIG_DIR": str(config)}, ready_path="api/status")
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def no_pending_request_left(request):
    """The browser tests share one JupyterLab server, whose inbox counts every pending request: a test that
    leaves one (a question left waiting, an offline agent's) would change what the next one sees. After each
    test, the sessions of requests still pending are deleted (taking their requests along)."""
    yield
    if "lab" not in request.fixturenames:
        return
    server = request.getfixturevalue("lab")
    with server.client() as admin:
        pending = admin.get("/agent-session-input-requests", params={"status": "pending", "$limit": 500})
        for left in pending.json().get("items", []) if pending.status_code == 200 else []:
            admin.delete(f"/agent-sessions/{left['session_id']}")


class Steps:
    """Saves a numbered screenshot per step of one test."""

    def __init__(self, page, name: str):
        self.page, self.folder, self.n = page, ARTIFACTS / name, 0
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)

    async def shot(self, label: str) -> None:
        self.n += 1
        await self.page.screenshot(path=str(self.folder / f"{self.n:02d}-{label}.png"))


async def put_notebook(api, server, name: str, sources: list[str], outputs: list[dict] | None = None) -> None:
    """A notebook of code cells saved as ``name`` in the server's root through Jupyter's contents API.
    ``outputs`` (saved outputs of the first cell) leave it untrusted: it is not signed, as a notebook written
    elsewhere is not."""
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": source}
             for source in sources]
    cells[0]["outputs"] = outputs or []
    notebook = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    contents = server.url.removesuffix("opensink") + f"api/contents/{name}"
    reply = await api.put(contents, json={"type": "notebook", "format": "json", "content": notebook})
    assert reply.status_code in (200, 201), reply.text


#: In the page: "dialog" while a dialog asks which kernel to use, "idle" once the current notebook's kernel is
#: idle, else false.
_KERNEL_STATE = """() => {
    if (document.querySelector('.jp-Dialog .jp-mod-accept')) { return 'dialog'; }
    const context = window.jupyterapp.shell.currentWidget?.sessionContext;
    return context?.session?.kernel?.status === 'idle' ? 'idle' : false;
}"""


async def kernel_ready(page) -> None:
    """The open notebook's kernel is idle, in JupyterLab or Notebook 7. Each starts the kernel the
    notebook's metadata names, but may first ask which kernel to use: then its dialog's default choice is
    taken. Whichever comes first is waited for (waiting a fixed time for a dialog that mostly never shows
    cost 5 to 30 s)."""
    await page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    state = await page.wait_for_function(_KERNEL_STATE, timeout=60_000)
    if await state.json_value() == "dialog":
        await page.locator(".jp-Dialog .jp-mod-accept").click()
        await page.wait_for_function(f"() => ({_KERNEL_STATE})() === 'idle'", timeout=60_000)


class SharedChromium:
    """One Chromium per test process, on one event loop, with one JupyterLab tab that every ``open_lab``
    of the process navigates.

    A fresh browser per test spent about 4 CPU-seconds loading JupyterLab (and 0.7 launching); the same tab
    loads it again for about 2, its renderer keeping the scripts it compiled (a new tab or browser context
    compiles them all again). Each test still starts from a fresh page (``?reset``, no layout kept) and leaves
    it on ``about:blank`` with the permissions it granted taken back. Playwright's objects belong to the loop
    that made them, so browser tests run their coroutine with ``run`` on this one's loop.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.playwright: Any = None
        self.browser: Any = None
        self.lab_tab: Any = None

    async def launched(self) -> Any:
        if self.browser is None or not self.browser.is_connected():
            from playwright.async_api import async_playwright

            if not Path(CHROMIUM).exists():
                pytest.fail(f"browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium)",
                            pytrace=False)
            if self.playwright is None:
                self.playwright = await async_playwright().start()
            self.browser = await self.playwright.chromium.launch(executable_path=CHROMIUM,
                                                                 args=["--no-sandbox"])
            self.lab_tab = None
        return self.browser

    async def tab(self) -> Any:
        """The JupyterLab tab, opened again if an earlier test lost it (a crash, a closed page)."""
        browser = await self.launched()
        if self.lab_tab is None or self.lab_tab.is_closed():
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            self.lab_tab = await context.new_page()
            # Leaving a Lab whose notebook ran asks "leave the page?": yes.
            self.lab_tab.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        return self.lab_tab

    def close(self) -> None:
        async def close() -> None:
            if self.browser is not None:
                await self.browser.close()
            if self.playwright is not None:
                await self.playwright.stop()

        try:
            self.loop.run_until_complete(close())
        finally:
            self.loop.close()


_chromium: SharedChromium | None = None


def _shared() -> SharedChromium:
    global _chromium
    if _chromium is None:
        _chromium = SharedChromium()
    return _chromium


@pytest.fixture(scope="session", autouse=True)
def _close_the_shared_chromium():
    yield
    global _chromium
    if _chromium is not None:
        _chromium.close()
        _chromium = None


def run(test: Coroutine[Any, Any, None]) -> None:
    """Runs a browser test's coroutine to its end on the loop of this process's Chromium (see
    ``SharedChromium``): what ``asyncio.run`` is to other tests."""
    _shared().loop.run_until_complete(test)


@contextlib.asynccontextmanager
async def open_link_page(name: str, *, width: int = 900, height: int = 1000) -> AsyncIterator[tuple[object, Steps]]:
    """A stranger's browser for an approval link, as a phone opens one from a message: no Jupyter cookie or
    token and no JavaScript at all (a browser context of its own, closed after). A failure inside is
    photographed as ``failure``."""
    browser = await _shared().launched()
    context = await browser.new_context(java_script_enabled=False,
                                        viewport={"width": width, "height": height})
    try:
        page = await context.new_page()
        steps = Steps(page, name)
        try:
            yield page, steps
        except BaseException:
            with contextlib.suppress(Exception):
                await steps.shot("failure")
            raise
    finally:
        await context.close()


@contextlib.asynccontextmanager
async def open_lab(server: RunningServer, name: str, path: str = "lab",
                   requests: list[str] | None = None,
                   known_errors: tuple[str, ...] = ()) -> AsyncIterator[tuple[object, Steps]]:
    """The JupyterLab tab on ``path`` of the server, signed in with the token, once JupyterLab has started
    (for a ``lab`` path). Every URL the page asks for is appended to ``requests``. An uncaught page error
    fails the test, except one whose message is in ``known_errors`` (a front end's own, named bug)."""
    root = server.url.removesuffix("opensink")
    page = await _shared().tab()
    errors: list[str] = []

    def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    unanswered: set[Any] = set()

    def on_request(request: Any) -> None:
        unanswered.add(request)
        if requests is not None:
            requests.append(request.url)

    def on_answer(request: Any) -> None:
        unanswered.discard(request)

    def on_response(response: Any) -> None:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            unanswered.discard(response.request)  # a stream: answered for as long as the page is open

    listeners = {"pageerror": on_error, "request": on_request, "requestfinished": on_answer,
                 "requestfailed": on_answer, "response": on_response}
    for event, listener in listeners.items():
        page.on(event, listener)
    steps = Steps(page, name)
    try:
        await page.goto(f"{root}{path}?reset&token={server.token}")  # reset: no layout from an earlier test
        if path.startswith("lab"):
            await page.wait_for_function("window.jupyterapp && window.jupyterapp.started !== undefined",
                                         timeout=60_000)
            await page.evaluate("window.jupyterapp.started")
            await page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
        yield page, steps
        assert not [e for e in errors if e not in known_errors], errors
    except BaseException:
        with contextlib.suppress(Exception):
            await steps.shot("failure")
        raise
    finally:
        # The page leaves once the server answered what it asked (15 s at most): a Jupyter server stopped
        # while it still works on a request in a thread (JupyterLab asks for the export formats as a notebook
        # opens, ~1 s of the server's CPU) never exits, and its stop waited 30 s before killing it.
        deadline = time.monotonic() + 15
        while unanswered and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for event, listener in listeners.items():
            page.remove_listener(event, listener)
        try:
            await page.context.clear_permissions()
            await page.goto("about:blank")
        except Exception:  # a page that crashed: closed, so the next test opens a new one
            with contextlib.suppress(Exception):
                await page.context.close()
