"""The workspace browser's Notebook runs view in a real JupyterLab: a run's status, duration and error, and
the link that opens its output notebook in Lab."""

from __future__ import annotations

import asyncio
import time

import httpx
import nbformat
from playwright.async_api import expect

from .conftest import open_lab, run
from .test_lab import api_client, ok, run_command


def notebook_json(*cells: str) -> dict:
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(cells[0], metadata={"tags": ["parameters"]}),
        *(nbformat.v4.new_code_cell(source) for source in cells[1:])])
    book.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return book


async def put_notebook(lab, path: str, *cells: str) -> None:
    """Into the server's root through Jupyter's contents API (the shared server's root is not at hand)."""
    jupyter = lab.url.removesuffix("opensink") + "api/contents/"
    async with httpx.AsyncClient(headers={"Authorization": f"token {lab.token}"}, timeout=30) as http:
        reply = await http.put(jupyter + path, json={"type": "notebook", "content": notebook_json(*cells)})
        assert reply.status_code in (200, 201), reply.text


async def run_to_its_end(api: httpx.AsyncClient, path: str, parameters: dict) -> dict:
    job = await ok(await api.post("/background-jobs", json={
        "name": path, "cron": "0 0 1 1 *", "enabled": False, "notebook": {"path": path, "parameters": parameters}}))
    await ok(await api.post(f"/background-jobs/{job['id']}/trigger"))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = (await ok(await api.get("/notebook-runs", params={"job_id": job["id"]})))["items"]
        if found and found[0]["status"] not in ("queued", "running"):
            return found[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"the run of {path} did not end")


async def kernels_idle(lab) -> None:
    """Every kernel of Jupyter's own (those Lab starts for the notebooks it opens) has finished starting."""
    kernels_url = lab.url.removesuffix("opensink") + "api/kernels"
    async with httpx.AsyncClient(headers={"Authorization": f"token {lab.token}"}, timeout=30) as http:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = [k["execution_state"] for k in (await http.get(kernels_url)).json()]
            if states and all(state == "idle" for state in states):
                return
            await asyncio.sleep(0.2)
    raise AssertionError(f"Lab's kernels did not start: {states}")


def test_runs_view_shows_runs_and_opens_an_output_notebook(lab):
    async def main() -> None:
        await put_notebook(lab, "runs-view-report.ipynb", "city = 'nowhere'", "print('report for', city)")
        await put_notebook(lab, "runs-view-broken.ipynb", "x = 0", "1 / x")
        async with api_client(lab) as api:
            good = await run_to_its_end(api, "runs-view-report.ipynb", {"city": "Lyon"})
            bad = await run_to_its_end(api, "runs-view-broken.ipynb", {})
            assert good["status"] == "success" and bad["status"] == "failed", (good, bad)

            async with open_lab(lab, "notebook-runs-view") as (page, steps):
                await run_command(page, "opensink:open-browser")
                browser = page.locator("#jp-opensink-browser")
                await browser.locator('.jp-OpenSink-tab[data-view="runs"]').click()
                good_row = browser.locator(f'tr[data-id="{good["id"]}"]')
                await expect(good_row).to_contain_text("runs-view-report.ipynb")
                await expect(good_row.locator(".jp-OpenSink-status")).to_have_text("success")
                await expect(good_row).to_contain_text(" s")  # its duration
                bad_row = browser.locator(f'tr[data-id="{bad["id"]}"]')
                await expect(bad_row).to_have_class("jp-OpenSink-failed")
                await expect(bad_row.locator(".jp-OpenSink-run-error")).to_have_text(
                    "cell 1: ZeroDivisionError: division by zero")  # no parameters: no injected cell
                await steps.shot("runs-view")

                await good_row.locator(".jp-OpenSink-output").click()
                name = good["output_path"].rsplit("/", 1)[-1]
                await expect(page.locator(".lm-TabBar-tab", has_text=name)).to_be_visible(timeout=30_000)
                opened = page.locator(".jp-NotebookPanel:visible")
                await expect(opened.locator(".jp-Cell").nth(1)).to_contain_text('city = "Lyon"')  # injected
                await expect(opened).to_contain_text("report for Lyon")
                await steps.shot("output-notebook-opened")
                await kernels_idle(lab)  # Lab started a kernel for the opened notebook: let it settle

    run(main())
