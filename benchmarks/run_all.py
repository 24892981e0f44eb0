"""Run every benchmark and write one report: figures, their targets, met or not.

Each benchmark runs as its own subprocess (one after the other, so they do not
compete for the CPU), with the sizes the performance targets are stated for;
``--quick`` runs tiny sizes instead, all at once (a smoke test: the figures then
mean nothing). Writes ``benchmarks/results/report.json`` (the raw output of every
script plus the figures) and prints a Markdown table.

Usage: ``python benchmarks/run_all.py [--quick] [--only sse,cron [--update]] [--out PATH]``
(``--update`` re-runs only the named benchmarks and keeps the others' runs from the
existing report.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "report.json"


@dataclass
class Bench:
    name: str
    script: str
    full: list[str]
    quick: list[str]
    timeout: int  # seconds, for the full sizes
    needs: str | None = None  # an executable it cannot run without


BENCHES = [
    Bench("http", "http_items.py", ["--seconds", "10", "--connections", "16", "--medium", "100000", "--big", "50000",
                                    "--postgres", "temp"],
          ["--seconds", "1", "--medium", "1000", "--big", "1000", "--repeat", "1", "--warmup", "0",
           "--fsync", "never", "--postgres", "temp"], 1800, needs="wrk"),
    Bench("callbacks", "callbacks.py", ["--count", "1000"], ["--count", "10", "--fsync", "never"], 600),
    Bench("cron", "cron.py", ["--jobs", "100", "--seconds", "30"],
          ["--jobs", "2", "--seconds", "2", "--fsync", "never"], 300),
    Bench("sse", "sse.py", ["--subscribers", "100,1000", "--events", "500", "--interval-ms", "50"],
          ["--subscribers", "3,4", "--events", "5", "--interval-ms", "5", "--fsync", "never"], 600),
    Bench("store", "store.py", ["--sizes", "1000,100000,1000000"],
          ["--sizes", "1000,2000", "--sample-writes", "200", "--concurrent-writes", "800"], 1500),
]


def run_bench(bench: Bench, quick: bool) -> dict:
    args = bench.quick if quick else bench.full
    if bench.needs and not shutil.which(bench.needs):
        return {"args": args, "skipped": f"needs {bench.needs}"}
    started = time.perf_counter()
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    try:
        out = subprocess.run([sys.executable, str(HERE / bench.script), *args], capture_output=True, text=True,
                             timeout=bench.timeout, cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        return {"args": args, "error": f"timed out after {bench.timeout} s"}
    seconds = round(time.perf_counter() - started, 1)
    if out.returncode != 0:
        return {"args": args, "seconds": seconds, "error": out.stderr[-3000:]}
    return {"args": args, "seconds": seconds, "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "load_average_before": load, "result": json.loads(out.stdout)}


@dataclass
class Figure:
    what: str
    bench: str
    value: Callable[[dict], float | None]  # from the script's JSON
    show: Callable[[dict], str]  # the figure as a reader sees it
    target: str = ""  # e.g. ">= 0.75"; empty: reported, no target
    limit: float | None = None
    at_least: bool = True


def fmt(n: float) -> str:
    return f"{n:,.0f}" if abs(n) >= 100 else f"{n:.2f}".rstrip("0").rstrip(".")


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def by_size(result: dict) -> dict[int, dict]:
    return {r["records"]: r for r in result["sizes"]}


def sse_most(result: dict) -> dict:
    """The SSE run with the most subscribers (the 1,000-subscriber one at full size)."""
    return max([result, *result.get("more_subscribers", [])], key=lambda r: r["subscribers"])


def store_ratio(policy: str) -> Callable[[dict], float]:
    return lambda r: r["cost_largest_over_smallest"][policy]


def store_ratio_show(policy: str) -> Callable[[dict], str]:
    def show(r: dict) -> str:
        c = r["cost_largest_over_smallest"]
        s = by_size(r)
        return (f"{c[policy]:.2f}x ({s[c['largest']][f'insert_fsync_{policy}']['median_us']} µs at "
                f"{c['largest']:,} vs {s[c['smallest']][f'insert_fsync_{policy}']['median_us']} µs at "
                f"{c['smallest']:,}, median)")
    return show


FIGURES = [
    Figure("Item create over HTTP vs bare tornado (empty sink)", "http",
           lambda r: r["create_empty_over_bare"],
           lambda r: (f"{r['create_empty_over_bare']:.2f}x ({fmt(r['item_create_empty_sink']['requests_per_s'])} vs "
                      f"{fmt(r['bare_tornado']['requests_per_s'])} req/s, {r['connections']} connections)"),
           ">= 0.75x", 0.75),
    Figure("Item create p99 vs bare tornado's p99 (empty sink, same run)", "http",
           lambda r: r["item_create_empty_sink"]["p99_ms"] / r["bare_tornado"]["p99_ms"],
           lambda r: (f"{r['item_create_empty_sink']['p99_ms'] / r['bare_tornado']['p99_ms']:.1f}x (p50 / p90 / p99 "
                      f"{r['item_create_empty_sink']['p50_ms']:g} / {r['item_create_empty_sink']['p90_ms']:g} / "
                      f"{r['item_create_empty_sink']['p99_ms']:g} ms; bare tornado "
                      f"{r['bare_tornado']['p50_ms']:g} / {r['bare_tornado']['p90_ms']:g} / "
                      f"{r['bare_tornado']['p99_ms']:g} ms)"),
           "<= 5x", 5, at_least=False),
    Figure("Item create at 100k items vs empty sink", "http",
           lambda r: r["create_medium_over_empty"],
           lambda r: (f"{r['create_medium_over_empty']:.2f}x ({fmt(r['item_create_medium_sink']['requests_per_s'])} "
                      f"req/s)"),
           ">= 0.9x", 0.9),
    Figure("PostgreSQL item create vs TinyDB (same run)", "http",
           lambda r: r["postgres"]["create_empty_over_tinydb"],
           lambda r: (f"{r['postgres']['create_empty_over_tinydb']:.2f}x "
                      f"({fmt(r['postgres']['item_create_empty_sink']['requests_per_s'])} vs "
                      f"{fmt(r['item_create_empty_sink']['requests_per_s'])} req/s; p50/p90/p99 "
                      f"{r['postgres']['item_create_empty_sink']['p50_ms']:g} / "
                      f"{r['postgres']['item_create_empty_sink']['p90_ms']:g} / "
                      f"{r['postgres']['item_create_empty_sink']['p99_ms']:g} ms)"),
           ">= 0.8x", 0.8),
    Figure("PostgreSQL list page of 50 at 50k items", "http",
           lambda r: r["postgres"]["list_page_50_big_sink"]["median_ms"],
           lambda r: (f"{r['postgres']['list_page_50_big_sink']['median_ms']} ms of server time (median; "
                      f"{r['postgres']['list_page_50_big_sink']['items_in_sink']:,} items in the sink; TinyDB "
                      f"{r['list_page_50_big_sink']['median_ms']} ms)"),
           "<= 2 ms", 2, at_least=False),
    Figure("Callback latency p50 (resolve sent to endpoint called)", "callbacks",
           lambda r: r["callback_after_resolve_sent_ms"]["p50"],
           lambda r: (f"{r['callback_after_resolve_sent_ms']['p50']} ms (the resolve's own round trip "
                      f"p50 {r['resolve_round_trip_ms']['p50']} ms)"), "<= 1.5 ms", 1.5, at_least=False),
    Figure("Callback latency p99", "callbacks",
           lambda r: r["callback_after_resolve_sent_ms"]["p99"],
           lambda r: f"{r['callback_after_resolve_sent_ms']['p99']} ms", "<= 5 ms", 5, at_least=False),
    Figure("Cron jitter p99, 100 jobs: run start minus due second", "cron",
           lambda r: r["started_minus_scheduled_ms"]["p99"],
           lambda r: (f"{r['started_minus_scheduled_ms']['p99']} ms (p50 {r['started_minus_scheduled_ms']['p50']}; "
                      f"{r['runs']:,} runs, {r['missed_runs']} missed, {r['doubled_runs']} doubled, "
                      f"{r['statuses'].get('skipped', 0)} skipped as still running)"),
           "<= 20 ms", 20, at_least=False),
    Figure("Cron p99, 100 jobs: request arrival at the target minus due second", "cron",
           lambda r: r["received_minus_scheduled_ms"]["p99"],
           lambda r: (f"{r['received_minus_scheduled_ms']['p99']} ms (p50 {r['received_minus_scheduled_ms']['p50']}; "
                      f"server CPU {r['server_cpu_ms_per_run']} ms per run)"),
           "<= 50 ms", 50, at_least=False),
    Figure("SSE fan-out p99, 100 subscribers (write sent to arrival at each)", "sse",
           lambda r: r["delivery_after_write_sent_ms"]["p99"] if not r["missing"] else None,
           lambda r: (f"{r['delivery_after_write_sent_ms']['p99']} ms (p50 {r['delivery_after_write_sent_ms']['p50']}; "
                      f"{r['deliveries']:,} deliveries at {r['events_per_s']:g} events/s, {r['missing']} missing; "
                      f"spread over subscribers p99 {r['spread_over_subscribers_ms']['p99']} ms; "
                      f"server CPU {r['server_cpu_us_per_delivery']:g} µs per delivery)"),
           "<= 20 ms", 20, at_least=False),
    Figure("SSE fan-out p99, 1,000 subscribers (write sent to arrival at each)", "sse",
           lambda r: sse_most(r)["delivery_after_write_sent_ms"]["p99"] if not sse_most(r)["missing"] else None,
           lambda r: (f"{sse_most(r)['delivery_after_write_sent_ms']['p99']} ms with "
                      f"{sse_most(r)['subscribers']:,} subscribers (p50 "
                      f"{sse_most(r)['delivery_after_write_sent_ms']['p50']}, p90 "
                      f"{sse_most(r)['delivery_after_write_sent_ms']['p90']}; {sse_most(r)['deliveries']:,} "
                      f"deliveries at {sse_most(r)['events_per_s']:g} events/s, {sse_most(r)['missing']} missing; "
                      f"server CPU {sse_most(r)['server_cpu_us_per_delivery']:g} µs per delivery)"),
           "<= 50 ms", 50, at_least=False),
    Figure("Store write cost, largest vs smallest table, fsync always", "store", store_ratio("always"),
           store_ratio_show("always"), "<= 1.2x", 1.2, at_least=False),
    Figure("Store write cost, largest vs smallest table, fsync never", "store", store_ratio("never"),
           store_ratio_show("never"), "<= 1.2x", 1.2, at_least=False),
    Figure("Durable writes/s (fsync always, 16 concurrent writers), lowest over sizes", "store",
           lambda r: min(s["concurrent_fsync_always"]["writes_per_s"] for s in r["sizes"]),
           lambda r: "; ".join(
               f"{fmt(s['concurrent_fsync_always']['writes_per_s'])} at {s['records']:,} records"
               + "".join(f" ({fmt(m['writes_per_s'])} with {m['writers']} writers)"
                         for m in s.get("concurrent_fsync_always_more_writers", []))
               + (f", fdatasync p50 {s['fsync_latency']['p50_ms']} ms" if "fsync_latency" in s else "")
               for s in r["sizes"]),
           ">= 20,000", 20_000),
    Figure("Load time of the largest store", "store", lambda r: max(r["sizes"], key=lambda s: s["records"])["load_s"],
           lambda r: "{load_s} s for {records:,} records".format(**max(r["sizes"], key=lambda s: s["records"]))),
    Figure("Memory per 100k items: store loaded from disk", "store",
           lambda r: max(r["sizes"], key=lambda s: s["records"])["memory_bytes"],
           lambda r: "{} (from {:,} records: {}, {:.2f}x the snapshot)".format(
               mib(max(r["sizes"], key=lambda s: s["records"])["memory_bytes"] * 100_000
                   / max(r["sizes"], key=lambda s: s["records"])["records"]),
               max(r["sizes"], key=lambda s: s["records"])["records"],
               mib(max(r["sizes"], key=lambda s: s["records"])["memory_bytes"]),
               max(r["sizes"], key=lambda s: s["records"])["memory_over_snapshot"])),
    Figure("Memory per 100k items: server growth while items are created over HTTP", "http",
           lambda r: r["server_rss_growth_bytes_per_100k_items"],
           lambda r: mib(r["server_rss_growth_bytes_per_100k_items"])),
]


def evaluate(runs: dict[str, dict]) -> list[dict]:
    rows = []
    for fig in FIGURES:
        run = runs.get(fig.bench)
        row = {"figure": fig.what, "benchmark": fig.bench, "target": fig.target, "value": None, "shown": "",
               "met": None}
        if run is None:
            row["shown"] = "not run"
        elif "result" not in run:
            row["shown"] = "skipped: " + run["skipped"] if "skipped" in run else "failed"
        else:
            try:
                row["value"] = fig.value(run["result"])
                row["shown"] = fig.show(run["result"])
            except (KeyError, ValueError, TypeError) as exc:
                row["shown"] = f"not reported ({exc!r})"
            if fig.limit is not None:
                value = row["value"]
                row["met"] = value is not None and (value >= fig.limit if fig.at_least else value <= fig.limit)
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| figure | measured | target | met |", "| --- | --- | --- | --- |"]
    for row in rows:
        met = "" if row["met"] is None and not row["target"] else ("yes" if row["met"] else "**no**")
        lines.append(f"| {row['figure']} | {row['shown']} | {row['target'] or 'none'} | {met or '-'} |")
    return "\n".join(lines)


def machine() -> dict:
    info = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    if hasattr(os, "getloadavg"):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that it all runs, measures nothing")
    parser.add_argument("--only", default="", help="comma-separated benchmark names: " +
                        ",".join(b.name for b in BENCHES))
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--update", action="store_true",
                        help="with --only: keep the other benchmarks' runs from the existing report")
    parser.add_argument("--show", action="store_true", help="print the table of the existing report; run nothing")
    args = parser.parse_args()
    if args.show:
        print(markdown(evaluate(json.loads(Path(args.out).read_text())["runs"])))
        return
    wanted = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = wanted - {b.name for b in BENCHES}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    report: dict = {"quick": args.quick, "machine": machine(),
                    "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": {}}
    started = time.perf_counter()
    chosen = [b for b in BENCHES if not wanted or b.name in wanted]

    def one(bench: Bench) -> dict:
        print(f"running {bench.name} ...", file=sys.stderr, flush=True)
        run = run_bench(bench, args.quick)
        print(f"  {bench.name}: " + (f"{run['seconds']} s" if "result" in run else
                                     run.get("skipped") or "failed:\n" + run["error"]), file=sys.stderr, flush=True)
        return run

    if args.quick:  # the figures mean nothing anyway: save the waiting
        with ThreadPoolExecutor(len(chosen) or 1) as pool:
            runs = list(pool.map(one, chosen))
    else:
        runs = [one(bench) for bench in chosen]
    report["runs"] = {bench.name: run for bench, run in zip(chosen, runs)}
    if args.update and Path(args.out).exists():
        previous = json.loads(Path(args.out).read_text())
        if previous.get("quick") == args.quick:
            kept = {name: run for name, run in previous["runs"].items() if name not in report["runs"]}
            report["runs"] = {b.name: {**kept, **report["runs"]}[b.name] for b in BENCHES
                              if b.name in kept or b.name in report["runs"]}
            report["updated_from"] = previous.get("started_at")
    report["seconds"] = round(time.perf_counter() - started, 1)
    if hasattr(os, "getloadavg"):
        report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["figures"] = evaluate(report["runs"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report["figures"]))
    print(f"\nreport: {out}", file=sys.stderr)
    failed = [name for name, run in report["runs"].items() if "error" in run]
    if failed:
        sys.exit(f"benchmark(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
