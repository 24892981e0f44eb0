"""Store benchmark: write cost by table size, durable throughput, load time, memory.

Prints one JSON object. Usage: ``python benchmarks/store.py [--sizes 1000,100000,1000000]``.
Every loop is bounded by a count; the whole run takes a few minutes at 1M.

``--compare REF`` measures durable writes/s only, alternating the journal of git revision REF
(loaded from ``git show``) with the working tree's, ``--repeats`` times per writer count;
``--busy N`` runs N CPU-bound processes beside the measurement (each bounded in time), to see the
figure on a loaded machine.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.util
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyter_opensink.store import Insert, TableSpec, TinyStore
from jupyter_opensink.store import tinystore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import percentile  # noqa: E402

SPECS = [TableSpec("items", indexes=("sink_id", "workspace_id"))]
SAMPLE_WRITES = 2000  # timed one by one, per size and fsync policy
CONCURRENT_WRITERS = (16, 128)  # the first is the headline figure
CONCURRENT_WRITES = 24_000  # per measurement, shared by the writers


def make_doc(i: int) -> dict:
    """About 330 bytes of JSON once the store adds id and timestamps."""
    return {
        "sink_id": f"sink-{i % 10}",
        "workspace_id": "default",
        "title": f"Item number {i}",
        "body": "Observed a change in the upstream dataset; details follow. " * 2,
        "type": "note",
        "fields": {"score": i % 100, "ok": True},
    }


async def timed_inserts(store: TinyStore, count: int) -> dict:
    costs = []
    for i in range(count):
        start = time.perf_counter()
        await store.insert("items", make_doc(i))
        costs.append((time.perf_counter() - start) * 1e6)
    return {"median_us": round(statistics.median(costs), 1), "p99_us": round(percentile(costs, 0.99), 1)}


async def concurrent_throughput(store: TinyStore, writers: int, total: int) -> dict:
    each = max(1, total // writers)

    async def writer(offset: int) -> None:
        for i in range(each):
            await store.insert("items", make_doc(offset + i))

    start = time.perf_counter()
    await asyncio.gather(*(writer(w * each) for w in range(writers)))
    elapsed = time.perf_counter() - start
    return {"writers": writers, "writes": writers * each, "writes_per_s": round(writers * each / elapsed)}


def fsync_latency(directory: Path, count: int = 200) -> dict:
    """The disk's own cost, next to the database: append ~340 bytes and fdatasync, ``count`` times."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    costs = []
    try:
        for _ in range(count):
            os.write(fd, b"x" * 340 + b"\n")
            start = time.perf_counter()
            os.fdatasync(fd) if hasattr(os, "fdatasync") else os.fsync(fd)
            costs.append((time.perf_counter() - start) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return {"p50_ms": percentile(costs, 0.5), "p99_ms": percentile(costs, 0.99)}


async def compaction_stall(store: TinyStore) -> dict:
    """Compact while a ticker measures how long the event loop goes without running it."""
    worst = 0.0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            worst = max(worst, now - last - 0.001)
            last = now

    tick = asyncio.ensure_future(ticker())
    start = time.perf_counter()
    await store.compact()
    elapsed = time.perf_counter() - start
    stop.set()
    await tick
    return {"seconds": round(elapsed, 2), "max_loop_stall_ms": round(worst * 1000, 1)}


async def preload(directory: Path, size: int) -> None:
    store = TinyStore.open(directory, SPECS, fsync="never")
    for start in range(0, size, 1000):
        await store.batch([Insert("items", make_doc(i)) for i in range(start, min(size, start + 1000))])
    await store.close()


def measure_load(directory: Path) -> dict:
    """Open the database in a fresh process: load time and the memory it takes."""
    code = (
        "import json, time, psutil, gc\n"
        "from jupyter_opensink.store import TinyStore\n"
        "from benchmarks.store import SPECS\n"
        "base = psutil.Process().memory_info().rss\n"
        "t = time.perf_counter()\n"
        f"s = TinyStore.open({str(directory)!r}, SPECS, fsync='never')\n"
        "elapsed = time.perf_counter() - t\n"
        "gc.collect()\n"
        "print(json.dumps({'seconds': elapsed, 'rss_bytes': psutil.Process().memory_info().rss - base}))\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                         env={**os.environ, "PYTHONPATH": str(root)})
    return json.loads(out.stdout)


async def run_size(base: Path, size: int, samples: int, writers: list[int], concurrent: int) -> dict:
    directory = base / f"db-{size}"
    t = time.perf_counter()
    await preload(directory, size)
    result: dict = {"records": size, "preload_s": round(time.perf_counter() - t, 2)}
    snapshot_bytes = (directory / "opensink.json").stat().st_size
    result["snapshot_bytes"] = snapshot_bytes
    load = measure_load(directory)
    result["load_s"] = round(load["seconds"], 2)
    result["memory_bytes"] = load["rss_bytes"]
    result["memory_over_snapshot"] = round(load["rss_bytes"] / snapshot_bytes, 2)
    for policy in ("never", "always"):
        store = TinyStore.open(directory, SPECS, fsync=policy)
        result[f"insert_fsync_{policy}"] = await timed_inserts(store, samples)
        if policy == "always":
            result["fsync_latency"] = fsync_latency(directory)
            result["concurrent_fsync_always"] = await concurrent_throughput(store, writers[0], concurrent)
            result["concurrent_fsync_always_more_writers"] = [
                await concurrent_throughput(store, n, concurrent) for n in writers[1:]]
            result["compaction_fsync_always"] = await compaction_stall(store)
        t = time.perf_counter()
        await store.close()
        result[f"close_with_snapshot_s_{policy}"] = round(time.perf_counter() - t, 2)
    shutil.rmtree(directory)
    return result


def journal_of_revision(ref: str):
    """The ``Journal`` class of ``jupyter_opensink/store/journal.py`` at git revision ``ref``."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(["git", "show", f"{ref}:jupyter_opensink/store/journal.py"], cwd=root,
                            capture_output=True, text=True, check=True).stdout
    spec = importlib.util.spec_from_loader("jupyter_opensink.store._journal_compared", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "jupyter_opensink.store"
    exec(compile(source, f"{ref}:journal.py", "exec"), module.__dict__)
    return module.Journal


def busy_loop(seconds: float) -> None:
    """A CPU-bound process beside the measurement; stops by itself after ``seconds``."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        for _ in range(10_000):
            n += 1


def start_busy(count: int, seconds: float) -> list[subprocess.Popen]:
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); " \
           f"from benchmarks.store import busy_loop; busy_loop({seconds})"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


async def compare_journals(base: Path, ref: str, writers: list[int], total: int, repeats: int) -> dict:
    """Durable writes/s with the journal of ``ref`` and with the current one, alternating."""
    variants = {"before": journal_of_revision(ref), "after": tinystore.Journal}
    if "executor" in inspect.signature(variants["before"]).parameters:  # a journal with an fsync executor
        executor = ThreadPoolExecutor(1, thread_name_prefix="opensink-fsync")
        variants["before"] = functools.partial(variants["before"], executor=executor)
    rates: dict[str, dict[int, list[int]]] = {name: {n: [] for n in writers} for name in variants}
    probes = []
    for round_number in range(repeats):
        order = list(variants) if round_number % 2 == 0 else list(variants)[::-1]
        for n in writers:
            for name in order:
                directory = base / f"compare-{name}"
                tinystore.Journal = variants[name]
                try:
                    store = TinyStore.open(directory, SPECS, fsync="always")
                    try:
                        rates[name][n].append((await concurrent_throughput(store, n, total))["writes_per_s"])
                    finally:
                        await store.close(snapshot=False)
                finally:
                    tinystore.Journal = variants["after"]
                shutil.rmtree(directory)
        probes.append(fsync_latency(base, 50))
    result: dict = {"revision": ref, "repeats": repeats, "writes": total,
                    "fsync_latency_p50_ms": round(statistics.median(p["p50_ms"] for p in probes), 3)}
    for n in writers:
        before, after = statistics.median(rates["before"][n]), statistics.median(rates["after"][n])
        result[f"writers_{n}"] = {"before": rates["before"][n], "after": rates["after"][n],
                                  "median_before": round(before), "median_after": round(after),
                                  "ratio": round(after / before, 2)}
    return result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--dir", default=None, help="where to put the databases (default: a temp dir)")
    parser.add_argument("--sample-writes", type=int, default=SAMPLE_WRITES,
                        help="writes timed one by one, per size and fsync policy")
    parser.add_argument("--writers", default=",".join(map(str, CONCURRENT_WRITERS)),
                        help="concurrent writers for the durable writes/s figure, one measurement each")
    parser.add_argument("--concurrent-writes", type=int, default=CONCURRENT_WRITES,
                        help="writes per concurrent measurement, shared by the writers")
    parser.add_argument("--compare", metavar="REF", default=None,
                        help="only durable writes/s: the journal of git revision REF against the current one")
    parser.add_argument("--repeats", type=int, default=5, help="alternations for --compare")
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes to run beside (bounded)")
    args = parser.parse_args()
    base = Path(args.dir or tempfile.mkdtemp(prefix="opensink-bench-"))
    busy = start_busy(args.busy, 600) if args.busy else []
    try:
        if args.compare:
            result = await compare_journals(base, args.compare, [int(n) for n in args.writers.split(",")],
                                            args.concurrent_writes, args.repeats)
            print(json.dumps({"benchmark": "store-journal-compare", "busy_processes": args.busy,
                              "load_average": os.getloadavg(), **result}, indent=2))
            return
        await run_sizes(args, base)
    finally:
        for proc in busy:
            proc.terminate()
            proc.wait()


async def run_sizes(args: argparse.Namespace, base: Path) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {"benchmark": "store", "sizes": []}
    for size in sizes:
        results["sizes"].append(await run_size(base, size, args.sample_writes,
                                               [int(n) for n in args.writers.split(",")], args.concurrent_writes))
    by_size = {r["records"]: r for r in results["sizes"]}
    if len(by_size) > 1:
        smallest, largest = min(by_size), max(by_size)
        results["cost_largest_over_smallest"] = {"smallest": smallest, "largest": largest, **{
            policy: round(by_size[largest][f"insert_fsync_{policy}"]["median_us"]
                          / by_size[smallest][f"insert_fsync_{policy}"]["median_us"], 2)
            for policy in ("never", "always")}}
    if 1000 in by_size and 1_000_000 in by_size:
        for policy in ("never", "always"):
            key = f"insert_fsync_{policy}"
            results[f"cost_1m_over_1k_{policy}"] = round(
                by_size[1_000_000][key]["median_us"] / by_size[1000][key]["median_us"], 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
