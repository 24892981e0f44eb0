"""HTTP benchmark: item-create throughput against a bare tornado handler, list and search times.

Starts a real Jupyter server with the extension and, in the same run, a bare
tornado app with a trivial JSON POST handler; drives both with wrk (Debian
package ``wrk``) on 127.0.0.1 for a fixed duration, alternating bare and item
create ``--repeat`` times before and after adding ``--medium`` items (medians),
after a warm-up of each (``--warmup`` seconds; 0 skips it). Prints one JSON object.

Also reports how much the server's resident memory grows while ``--medium`` items are
added. Usage: ``python benchmarks/http_items.py [--seconds 10] [--connections 16] [--big 1000000]
[--postgres temp|URL]``; with ``--postgres`` the same measurements (bare tornado pairs included)
run again on a server whose store is PostgreSQL, under the ``postgres`` key.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402

from benchmarks.common import profile  # noqa: E402
from tests.servers import free_port, start_server  # noqa: E402

ITEM = {"title": "Benchmark item", "body": "Observed a change in the upstream dataset.", "type": "note",
        "fields": {"score": 7, "ok": True}}

BARE_APP = textwrap.dedent("""
    import asyncio, json, sys
    import tornado.web

    class Items(tornado.web.RequestHandler):
        def post(self):
            doc = json.loads(self.request.body)
            self.set_status(201)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"id": "x", **doc}))

    async def main():
        tornado.web.Application([(r"/items", Items)]).listen(int(sys.argv[1]), address="127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())
""")


def start_bare_tornado() -> tuple[subprocess.Popen, str]:
    """The bare tornado app on a free port, once it answers; returns its process and its items URL."""
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])
    url = f"http://127.0.0.1:{port}/items"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.post(url, json={"x": 1}, timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return bare, url


def wrk(url: str, body: dict, headers: dict[str, str], seconds: int, connections: int) -> dict:
    """Drive POSTs at ``url`` for ``seconds``; requests/s and latency percentiles."""
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}",
             'wrk.headers["Content-Type"] = "application/json"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    lines.append(textwrap.dedent("""
        done = function(summary, latency, requests)
          io.write(string.format("STATUS non2xx=%d errors=%d\\n", summary.errors.status,
            summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
          for _, p in pairs({50, 90, 99}) do
            io.write(string.format("PCT %d %.3f\\n", p, latency:percentile(p) / 1000.0))
          end
        end
    """))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines))
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
                         capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    pct = {int(p): float(v) for p, v in re.findall(r"PCT (\d+) ([\d.]+)", out)}
    status = re.search(r"STATUS non2xx=(\d+) errors=(\d+)", out)
    return {"requests_per_s": round(rps), "requests": total, "p50_ms": pct[50], "p90_ms": pct[90], "p99_ms": pct[99],
            "non_2xx": int(status.group(1)), "socket_errors": int(status.group(2))}


def server_ms(client: httpx.Client, path: str, params: dict, repeat: int = 20) -> dict:
    """Median and max of the server's own time (Server-Timing) for a GET."""
    times = []
    for _ in range(repeat):
        reply = client.get(path, params=params)
        reply.raise_for_status()
        times.append(float(reply.headers["Server-Timing"].split("dur=")[1]))
    return {"median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2)}


def fill(client: httpx.Client, sink_id: str, count: int) -> float:
    start = time.perf_counter()
    for offset in range(0, count, 1000):
        items = [{**ITEM, "sink_id": sink_id, "title": f"Benchmark item {i}",
                  "fields": {"score": i % 100, "symbol": f"S{i % 500}"}}
                 for i in range(offset, min(count, offset + 1000))]
        reply = client.post("/sink-items/many", json={"items": items}, timeout=120)
        reply.raise_for_status()
        assert not reply.json()["invalid"]
    return round(time.perf_counter() - start, 1)


def server_rss(server) -> int:
    """Resident memory of the server process, after a collection (the GC runs in its own time:
    a few settled samples, the smallest)."""
    proc = psutil.Process(server.proc.pid)
    samples = []
    for _ in range(5):
        time.sleep(0.2)
        samples.append(proc.memory_info().rss)
    return min(samples)


def median_run(runs: list[dict]) -> dict:
    return {**sorted(runs, key=lambda r: r["requests_per_s"])[len(runs) // 2],
            "all_requests_per_s": [r["requests_per_s"] for r in runs]}


def measure(args: argparse.Namespace, bare_url: str, label: str, extra: tuple[str, ...] = ()) -> dict:
    """Every figure against one Jupyter server (its store chosen by ``extra``), with the bare
    tornado app at ``bare_url`` measured alternately next to it."""
    results: dict = {}
    work = Path(tempfile.mkdtemp(prefix="opensink-http-bench-"))
    server = None
    profiler = None
    try:
        server = start_server(work, work / "db", f"--OpenSinkApp.fsync={args.fsync}", *extra, others=True)
        profiler = profile(server, label)
        with server.client() as admin:
            key = admin.post("/api-keys", json={"name": "bench"}).json()["key"]
            empty = admin.post("/sinks", json={"name": "empty"}).json()
            medium = admin.post("/sinks", json={"name": "medium"}).json()
            big = admin.post("/sinks", json={"name": "big"}).json()
        auth = {"Authorization": f"Bearer {key}"}
        create_url = server.api + "/sink-items"

        def pairs(sink_id: str) -> tuple[list[dict], list[dict]]:
            """Bare tornado and item create, alternating, so that a change in the machine's load
            falls on both; ``--repeat`` pairs."""
            bare_runs, create_runs = [], []
            for _ in range(args.repeat):
                bare_runs.append(wrk(bare_url, ITEM, {}, args.seconds, args.connections))
                create_runs.append(wrk(create_url, {**ITEM, "sink_id": sink_id}, auth, args.seconds,
                                       args.connections))
            return bare_runs, create_runs

        with server.client(key) as agent:
            if args.warmup:  # both servers warmed up (first requests, allocator, caches); not measured
                wrk(bare_url, ITEM, {}, min(args.warmup, args.seconds), args.connections)
                wrk(create_url, {**ITEM, "sink_id": big["id"]}, auth, min(args.warmup, args.seconds),
                    args.connections)
            bare_empty, create_empty = pairs(empty["id"])
            rss_before = server_rss(server)
            results["fill_medium_s"] = fill(agent, medium["id"], args.medium)
            results["server_rss_growth_bytes_medium_fill"] = server_rss(server) - rss_before
            results["server_rss_growth_bytes_per_100k_items"] = round(
                results["server_rss_growth_bytes_medium_fill"] * 100_000 / max(1, args.medium))
            bare_medium, create_medium = pairs(medium["id"])
            results["search_q_medium_sink"] = server_ms(agent, "/sink-items",
                                                        {"sink_id": medium["id"], "q": "s499"})
            results["search_q_medium_sink"]["items_searched"] = args.medium
            if args.big:
                results["fill_big_s"] = fill(agent, big["id"], args.big)
                results["list_page_50_big_sink"] = server_ms(agent, "/sink-items",
                                                             {"sink_id": big["id"], "$limit": "50"})
                results["list_page_50_big_sink"]["items_in_sink"] = args.big
    finally:
        if server is not None:
            server.stop()
        if profiler:
            profiler.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)

    results["bare_tornado"] = median_run(bare_empty)
    results["item_create_empty_sink"] = median_run(create_empty)
    results["bare_tornado_after_fill"] = median_run(bare_medium)
    results["item_create_medium_sink"] = median_run(create_medium)
    rps = {name: results[name]["requests_per_s"] for name in
           ("bare_tornado", "item_create_empty_sink", "bare_tornado_after_fill", "item_create_medium_sink")}
    results["create_empty_over_bare"] = round(rps["item_create_empty_sink"] / rps["bare_tornado"], 2)
    results["create_medium_over_empty"] = round(rps["item_create_medium_sink"] / rps["item_create_empty_sink"], 2)
    # The same, each side first divided by the bare figure measured next to it (machine drift cancels).
    results["create_medium_over_empty_bare_normalised"] = round(
        (rps["item_create_medium_sink"] / rps["bare_tornado_after_fill"])
        / (rps["item_create_empty_sink"] / rps["bare_tornado"]), 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--medium", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=1_000_000, help="0 skips the list-page figure")
    parser.add_argument("--fsync", default="always")
    parser.add_argument("--repeat", type=int, default=3, help="bare/create pairs at each size (median)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="seconds of load on each server before measuring (0: none, as in a smoke run)")
    parser.add_argument("--postgres", default="",
                        help="also measure on PostgreSQL: a database URL, or 'temp' for a throwaway local "
                             "server (fsync on when --fsync is always; needs PostgreSQL's server binaries, "
                             "as the tests do)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("this benchmark needs wrk (Debian: apt-get install wrk)")
    results: dict = {"benchmark": "http", "seconds": args.seconds, "connections": args.connections,
                     "fsync": args.fsync}

    bare, bare_url = start_bare_tornado()
    try:
        results.update(measure(args, bare_url, "http"))
        if args.postgres:
            cluster = None
            url = args.postgres
            if url == "temp":  # a throwaway server, as the tests start it (tests/postgres.py)
                from tests.postgres import PgCluster

                cluster = PgCluster(durable=args.fsync == "always").start()
            try:
                if cluster is not None:
                    url = cluster.create_database()
                results["postgres"] = pg = measure(args, bare_url, "http-postgres",
                                                   (f"--OpenSinkApp.database_url={url}",))
                pg["create_empty_over_tinydb"] = round(pg["item_create_empty_sink"]["requests_per_s"]
                                                       / results["item_create_empty_sink"]["requests_per_s"], 2)
            finally:
                if cluster is not None:
                    cluster.stop()
    finally:
        bare.terminate()
        bare.wait()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
