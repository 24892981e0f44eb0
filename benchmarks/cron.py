"""Cron jitter: 100 jobs firing every second for 30 s against a local receiver.

Starts a real Jupyter server with the extension and a receiver on a free
loopback port in this process. Reports, per run, the start time recorded by
the server minus the scheduled second, and the arrival at the receiver minus
the scheduled second of the run that sent it (p50/p99), plus missed, skipped
and doubled runs.
Usage: ``python benchmarks/cron.py [--jobs 100] [--seconds 30]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import psutil  # noqa: E402
import tornado.httpserver  # noqa: E402
import tornado.web  # noqa: E402
from tornado.testing import bind_unused_port  # noqa: E402

from jupyter_opensink import ids  # noqa: E402
from benchmarks.common import percentile, temporary_server  # noqa: E402


class Arrivals(tornado.web.RequestHandler):
    def initialize(self, arrivals: list) -> None:
        self.arrivals = arrivals

    def post(self, job: str) -> None:
        self.arrivals.append((job, time.time()))
        self.finish("ok")



def arrival_lags(arrivals: list[tuple[str, float]], runs: list[dict], created: list[str]) -> list[float]:
    """Arrival at the receiver minus the due second of the run that sent it (ms).

    Every run that was not skipped sends one request, and runs of one job never overlap, so a
    job's requests arrive in the order of its runs: the k-th arrival belongs to its k-th run,
    exact at any lag (requests still on their way at the end are simply not counted).
    """
    by_job: dict[str, list[float]] = {}
    for index, at in arrivals:
        by_job.setdefault(created[int(index)], []).append(at)
    lags = []
    for job_id, times in by_job.items():
        due = sorted(ids.parse_time(r["scheduled_for"]).timestamp() for r in runs
                     if r["job_id"] == job_id and r["scheduled_for"] and r["status"] != "skipped")
        if len(times) > len(due):
            raise RuntimeError(f"job {job_id}: {len(times)} arrivals for {len(due)} runs")
        lags += [(at - d) * 1000 for at, d in zip(sorted(times), due)]
    return lags


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def run(api: str, token: str, server_pid: int, jobs: int, seconds: int) -> dict:
    arrivals: list[tuple[str, float]] = []
    sock, port = bind_unused_port()
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/job/(.*)", Arrivals,
                                                                      {"arrivals": arrivals})]))
    server.add_sockets([sock])
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"token {token}"}, timeout=60) as client:
        created = []
        for i in range(jobs):
            reply = await client.post("/background-jobs", json={
                "name": f"tick {i}", "cron": "* * * * * *", "url": f"http://127.0.0.1:{port}/job/{i}"})
            created.append(reply.json()["id"])
        window_start, cpu_before = time.time(), cpu_seconds(server_pid)
        await asyncio.sleep(seconds)
        window_end, server_cpu = time.time(), cpu_seconds(server_pid) - cpu_before
        for job_id in created:
            await client.patch(f"/background-jobs/{job_id}", json={"enabled": False})
        await asyncio.sleep(1.5)
        runs = []
        for job_id in created:
            trail = None
            while True:
                params = {"job_id": job_id, "$limit": "500", **({"$trail": trail} if trail else {})}
                page = (await client.get("/background-job-runs", params=params)).json()
                runs += page["items"]
                trail = page["trail"]
                if not trail:
                    break
    server.stop()
    started_lag = [(ids.parse_time(r["started_at"]) - ids.parse_time(r["scheduled_for"])).total_seconds() * 1000
                   for r in runs if r["scheduled_for"]]
    arrival_lag = arrival_lags(arrivals, runs, created)
    per_job = Counter((r["job_id"], r["scheduled_for"]) for r in runs)
    doubled = sum(1 for n in per_job.values() if n > 1)
    # Every whole second well inside the window should have one run per job.
    expected = {ids.format_time(float(s)) for s in range(int(window_start) + 2, int(window_end) - 1)}
    missed = sum(1 for job_id in created for second in expected if (job_id, second) not in per_job)
    return {
        "jobs": jobs, "seconds": seconds, "runs": len(runs), "arrivals": len(arrivals),
        "statuses": dict(Counter(r["status"] for r in runs)),
        "started_minus_scheduled_ms": {"p50": percentile(started_lag, 0.5), "p99": percentile(started_lag, 0.99),
                                       "max": round(max(started_lag), 2)},
        "received_minus_scheduled_ms": {"p50": percentile(arrival_lag, 0.5), "p99": percentile(arrival_lag, 0.99),
                                        "max": round(max(arrival_lag), 2)},
        "missed_runs": missed, "doubled_runs": doubled,
        # The server's CPU while the jobs fired (a run is recorded twice and sends one request).
        "server_cpu_share": round(server_cpu / (window_end - window_start), 3),
        "server_cpu_ms_per_run": round(server_cpu * 1000 / max(1, len(runs)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--fsync", default="always")
    args = parser.parse_args()
    with temporary_server("cron", f"--OpenSinkApp.fsync={args.fsync}") as server:
        result = asyncio.run(run(server.api, server.token, server.proc.pid, args.jobs, args.seconds))
    print(json.dumps({"benchmark": "cron", "fsync": args.fsync, **result}, indent=2))


if __name__ == "__main__":
    main()
