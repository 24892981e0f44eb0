"""Item create over HTTP with an API key: two checkouts of the extension side by side.

Starts the bare tornado app of ``http_items.py`` and one Jupyter server per checkout
(``--a`` and ``--b``: directories holding a ``jupyter_opensink`` package, put first on
the server's ``PYTHONPATH``), then drives bare, A and B with wrk one after the other,
``--rounds`` times, so that a change in the machine's load falls on all three. Each
server gets ``--prefill`` creates first (the event replay buffer fills as in a long run).
Prints one JSON object: every run, and per side the median requests/s, latency
percentiles and server CPU time per request (which, unlike the rate, hardly moves when
other work takes the cores), the ratios to bare tornado and of B to A.

Usage: ``python benchmarks/http_ab.py --a /path/to/old --b . [--rounds 4] [--seconds 10] [--postgres]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from benchmarks.common import profile  # noqa: E402
from benchmarks.http_items import ITEM, start_bare_tornado, wrk  # noqa: E402
from tests.servers import start_server  # noqa: E402


def start(code: Path, work: Path, label: str, fsync: str, *extra: str):
    path = os.pathsep.join(filter(None, [str(code.resolve()), os.environ.get("PYTHONPATH")]))
    server = start_server(work / label, work / label / "db", f"--OpenSinkApp.fsync={fsync}", *extra,
                          env={"PYTHONPATH": path}, others=True)
    with server.client() as admin:
        key = admin.post("/api-keys", json={"name": "bench"}).json()["key"]
        sink = admin.post("/sinks", json={"name": "bench"}).json()
    return server, {"Authorization": f"Bearer {key}"}, sink["id"], profile(server, f"http-ab-{label}")


def summary(runs: list[dict]) -> dict:
    return {name: statistics.median(r[name] for r in runs if name in r)
            for name in ("requests_per_s", "p50_ms", "p90_ms", "p99_ms", "server_cpu_us_per_request")
            if any(name in r for r in runs)}


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def measured(server, url: str, body: dict, auth: dict, args: argparse.Namespace) -> dict:
    """A wrk run, with the server process's CPU time per request: unlike the rate, it hardly moves
    when other work on the machine takes the cores."""
    proc = psutil.Process(server.proc.pid)
    before = cpu_seconds(proc)
    run = wrk(url, body, auth, args.seconds, args.connections)
    run["server_cpu_us_per_request"] = round((cpu_seconds(proc) - before) * 1e6 / max(1, run["requests"]), 1)
    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--a", required=True, help="checkout A (the reference)")
    parser.add_argument("--b", required=True, help="checkout B")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--prefill", type=int, default=10_000, help="creates before the measured runs")
    parser.add_argument("--fsync", default="always")
    parser.add_argument("--postgres", action="store_true",
                        help="each server on a database of its own in one throwaway local PostgreSQL server "
                             "(fsync on when --fsync is always; needs PostgreSQL's server binaries)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("this benchmark needs wrk (Debian: apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="opensink-http-ab-"))
    bare, bare_url = start_bare_tornado()
    servers, profilers = [], []
    cluster = None
    runs: dict[str, list[dict]] = {"bare": [], "a": [], "b": []}
    try:
        targets = {}
        if args.postgres:
            from tests.postgres import PgCluster

            cluster = PgCluster(durable=args.fsync == "always").start()
        for label in ("a", "b"):
            extra = (f"--OpenSinkApp.database_url={cluster.create_database()}",) if cluster else ()
            code = Path(getattr(args, label))
            server, auth, sink_id, profiler = start(code, work, label, args.fsync, *extra)
            servers.append(server)
            profilers.append(profiler)
            targets[label] = (server, server.api + "/sink-items", {**ITEM, "sink_id": sink_id}, auth)
        # Fill each replay buffer about as a long run would (not measured): prefill creates at ~1k/s each.
        for label, (_, url, body, auth) in targets.items():
            fill_s = max(2, min(60, args.prefill // 800))
            wrk(url, body, auth, fill_s, args.connections)
        load = [os.getloadavg()[0]]
        for _ in range(args.rounds):
            runs["bare"].append(wrk(bare_url, ITEM, {}, args.seconds, args.connections))
            for label, (server, url, body, auth) in targets.items():
                runs[label].append(measured(server, url, body, auth, args))
            load.append(os.getloadavg()[0])
    finally:
        for server in servers:
            server.stop()
        for profiler in profilers:
            if profiler:
                profiler.wait(timeout=60)
        bare.terminate()
        bare.wait()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    result: dict = {"benchmark": "http_ab", "a": str(args.a), "b": str(args.b), "seconds": args.seconds,
                    "connections": args.connections, "fsync": args.fsync, "postgres": args.postgres,
                    "load_average_1m": load, "runs": runs}
    for label in runs:
        result[label] = summary(runs[label])
    for label in ("a", "b"):
        rate = result[label]["requests_per_s"]
        result[f"{label}_over_bare"] = round(rate / result["bare"]["requests_per_s"], 2)
        result[f"{label}_p99_over_bare_p99"] = round(result[label]["p99_ms"] / result["bare"]["p99_ms"], 1)
    # Per round (same load for both): B's rate over A's, the median of the rounds.
    result["b_over_a_per_round"] = [round(b["requests_per_s"] / a["requests_per_s"], 2)
                                    for a, b in zip(runs["a"], runs["b"])]
    result["b_over_a"] = statistics.median(result["b_over_a_per_round"])
    result["b_over_a_server_cpu_per_request"] = round(
        result["b"]["server_cpu_us_per_request"] / result["a"]["server_cpu_us_per_request"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
