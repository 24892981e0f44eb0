"""Every notebook in notebooks/ runs headless, in a kernel the Jupyter server itself started.

Kernels started by the server inherit its environment (OPENSINK_URL, OPENSINK_API_KEY,
OPENSINK_EXECUTION_SECRET), exactly as in a real session. A failing cell fails the test.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import nbformat
import pytest
from jupyter_client.asynchronous import AsyncKernelClient
from nbclient import NotebookClient

from .servers import start_server

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


class ServerKernel:
    """What nbclient needs of a kernel manager, for a kernel the server owns."""

    has_kernel = True
    ipykernel = True

    async def is_alive(self) -> bool:
        return True


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("notebooks")
    running = start_server(base / "work", base / "db", "--OpenSinkApp.fsync=never",
                           env={"OPENSINK_NOTEBOOK_HEADLESS": "1"})
    running.workdir = base / "work"
    yield running
    running.stop()


async def execute(server, notebook: Path) -> nbformat.NotebookNode:
    jupyter_api = server.url.removesuffix("opensink") + "api"
    auth = {"Authorization": f"token {server.token}"}
    async with httpx.AsyncClient(headers=auth, timeout=60) as http:
        kernel = (await http.post(f"{jupyter_api}/kernels", json={"name": "python3"})).json()
        try:
            connection = server.workdir / "runtime" / f"kernel-{kernel['id']}.json"
            client = AsyncKernelClient()
            client.load_connection_info(json.loads(connection.read_text()))
            # No heartbeat channel: on a loaded machine a heartbeat a second late reads as a dead
            # kernel. Readiness is the kernel_info reply (60 s), liveness is the server's concern.
            client.start_channels(hb=False)
            await client.wait_for_ready(timeout=60)
            book = nbformat.read(notebook, as_version=4)
            runner = NotebookClient(book, km=ServerKernel(), timeout=180, allow_errors=False)
            runner.kc = client
            await runner.async_execute()
            client.stop_channels()
            return book
        finally:
            await http.delete(f"{jupyter_api}/kernels/{kernel['id']}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_runs(server, notebook, tmp_path):
    book = asyncio.run(execute(server, notebook))
    last = book.cells[-1]
    printed = "".join(out.get("text", "") for out in last.get("outputs", []) if out.get("output_type") == "stream")
    assert printed.strip().endswith("OK"), printed  # the check cell ran to its end


def test_there_are_notebooks():
    assert [n.name for n in NOTEBOOKS] == ["01-quickstart.ipynb", "02-approve-in-a-notebook.ipynb",
                                           "03-prototype-an-agent-in-cells.ipynb", "04-background-jobs.ipynb",
                                           "05-external-agent.ipynb", "06-decide-with-evidence.ipynb",
                                           "07-langgraph-approval.ipynb",
                                           "08-daily-report-asks-before-publishing.ipynb"]
