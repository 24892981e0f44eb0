"""Notebook runs: from a job's trigger to the notebook's first cell executing, and the server's own cost per run.

Starts a real Jupyter server with the extension and a small report notebook in its root, then triggers a
notebook job ``--count`` times, one run after the other. For each run:

- ``trigger_to_first_cell_ms``: from sending the trigger to the first cell running in the new kernel (its
  own clock reading, printed by that cell), kernel start included;
- ``kernel_ms``: what the kernel's side took (start, the cells, shutdown), as the run records it in the output
  notebook's metadata;
- ``server_overhead_ms``: from sending the trigger to the ``notebook_run.finished`` event, minus ``kernel_ms``:
  recording the job run and the notebook run, reading and parameterizing the notebook, writing the output
  after each cell, recording the end and announcing it.

Prints one JSON object. Usage: ``python benchmarks/notebook_runs.py [--count 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import nbformat  # noqa: E402

from benchmarks.common import percentile, temporary_server  # noqa: E402


def write_report_notebook(root: Path) -> None:
    cells = [nbformat.v4.new_code_cell("import time\nprint(repr(time.time()))"),  # when the first cell runs
             nbformat.v4.new_code_cell("region = 'world'\nrows = 10", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("total = sum(range(rows))\nprint(region, total)")]
    book = nbformat.v4.new_notebook(cells=cells)
    book.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(book, root / "bench-report.ipynb")


def summary(values: list[float]) -> dict:
    return {"p50": percentile(values, 0.5), "p90": percentile(values, 0.9), "max": round(max(values), 2),
            "mean": round(statistics.fmean(values), 2)}


async def run(server, count: int) -> dict:
    root = Path(server.log_path).parent
    write_report_notebook(root)
    finished: dict[str, float] = {}  # notebook run id -> when its finished event arrived (wall clock)
    async with httpx.AsyncClient(base_url=server.api, headers={"Authorization": f"token {server.token}"},
                                 timeout=120) as client:
        job = (await client.post("/background-jobs", json={
            "name": "bench", "cron": "0 0 1 1 *", "enabled": False,
            "notebook": {"path": "bench-report.ipynb", "parameters": {"region": "EU", "rows": 1000}}})).json()

        async def listen(ready: asyncio.Event) -> None:
            async with client.stream("GET", "/events", params={"types": "notebook_run.finished"},
                                     timeout=None) as events:
                ready.set()
                async for line in events.aiter_lines():
                    if line.startswith("data: "):
                        finished[json.loads(line[6:])["id"]] = time.time()

        ready = asyncio.Event()
        listener = asyncio.ensure_future(listen(ready))
        await asyncio.wait_for(ready.wait(), 30)
        first_cell, kernel, overhead, totals = [], [], [], []
        try:
            for _ in range(count):
                sent = time.time()
                reply = await client.post(f"/background-jobs/{job['id']}/trigger")
                reply.raise_for_status()
                job_run_id = reply.json()["id"]
                deadline = time.monotonic() + 120
                run = None
                while time.monotonic() < deadline:
                    job_run = (await client.get(f"/background-job-runs/{job_run_id}")).json()
                    run_id = job_run.get("notebook_run_id")
                    if run_id and run_id in finished:
                        run = (await client.get(f"/notebook-runs/{run_id}")).json()
                        break
                    await asyncio.sleep(0.005)
                if run is None or run["status"] != "success":
                    raise RuntimeError(f"the run did not succeed: {run}")
                book = nbformat.read(root / run["output_path"], as_version=4)
                started_cell = float(book.cells[0].outputs[0]["text"].strip())
                spent = book.metadata["opensink"]
                kernel_ms = spent["kernel_start_ms"] + spent["execute_ms"] + spent["shutdown_ms"]
                total_ms = (finished[run["id"]] - sent) * 1000
                first_cell.append((started_cell - sent) * 1000)
                kernel.append(kernel_ms)
                totals.append(total_ms)
                overhead.append(total_ms - kernel_ms)
        finally:
            listener.cancel()
    return {"runs": count, "trigger_to_first_cell_ms": summary(first_cell), "kernel_ms": summary(kernel),
            "trigger_to_finished_event_ms": summary(totals), "server_overhead_ms": summary(overhead)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    with temporary_server("notebook-runs", "--OpenSinkApp.fsync=never") as server:
        result = asyncio.run(run(server, args.count))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
