"""The benchmark scripts still run (tiny sizes: this checks they work, not how fast): `run_all.py --quick` runs
them all once for the module (the HTTP one on TinyDB and PostgreSQL); the MCP, notebook-run and notification
benchmarks are not part of run_all and run on their own."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


#: One worker runs the module, so the quick run of every benchmark (a module fixture) happens once.
pytestmark = pytest.mark.xdist_group("benchmarks")


def run(script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> dict:
    """``run_all.py --quick``: every benchmark at tiny sizes, once for the module's tests."""
    path = tmp_path_factory.mktemp("benchmarks") / "report.json"
    out = subprocess.run([sys.executable, str(BENCHMARKS / "run_all.py"), "--quick", "--out", str(path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return {"stdout": out.stdout, "report": json.loads(path.read_text())}


def result_of(quick: dict, name: str) -> dict:
    run = quick["report"]["runs"][name]
    assert "result" in run, (name, run)
    return run["result"]


def test_store_benchmark(quick):
    result = result_of(quick, "store")
    assert result["sizes"][0]["records"] == 1000 and result["sizes"][0]["memory_over_snapshot"] > 0


def test_callbacks_benchmark(quick):
    result = result_of(quick, "callbacks")
    assert result["resolves"] == 10 and result["callback_after_resolve_sent_ms"]["p50"] > 0


def test_cron_benchmark(quick):
    result = result_of(quick, "cron")
    assert result["runs"] >= 2 and result["doubled_runs"] == 0


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk); .ci/run installs it")
def test_http_items_benchmark(quick):
    """The quick run measures TinyDB and PostgreSQL both (one run of the script serves this test)."""
    result = result_of(quick, "http")
    assert result["bare_tornado"]["requests_per_s"] > 0 and result["item_create_empty_sink"]["non_2xx"] == 0
    assert result["postgres"]["item_create_empty_sink"]["requests_per_s"] > 0
    assert result["postgres"]["item_create_empty_sink"]["non_2xx"] == 0
    assert result["postgres"]["create_empty_over_tinydb"] > 0
    assert result["postgres"]["list_page_50_big_sink"]["median_ms"] > 0
    shown = {row["figure"]: row for row in quick["report"]["figures"]}
    assert shown["PostgreSQL item create vs TinyDB (same run)"]["met"] is not None
    assert shown["PostgreSQL list page of 50 at 50k items"]["met"] is not None


def test_sse_benchmark(quick):
    result = result_of(quick, "sse")
    assert result["deliveries"] == result["deliveries_expected"] == 15 and result["missing"] == 0
    assert result["delivery_after_write_sent_ms"]["p50"] > 0


def test_run_all_quick(quick):
    report = quick["report"]
    assert report["quick"] and set(report["runs"]) == {"http", "callbacks", "cron", "sse", "store"}
    for name, result in report["runs"].items():
        assert "result" in result or (name == "http" and "skipped" in result), (name, result)
    targeted = [row for row in report["figures"] if row["target"]]
    assert len(targeted) >= 10 and all(row["met"] is not None for row in targeted
                                       if report["runs"][row["benchmark"]].get("result"))
    assert quick["stdout"].startswith("| figure | measured | target | met |")


def test_mcp_benchmark():
    result = run("mcp_calls.py", "--count", "3", "--asks", "2", "--fsync", "never")
    for era in ("auto", "legacy"):
        assert result["mcp"][era]["write_item_ms"]["n"] == 3
        assert result["mcp"][era]["answer_after_resolve_sent_ms"]["p50"] > 0


def test_notebook_runs_benchmark():
    result = run("notebook_runs.py", "--count", "2")
    assert result["runs"] == 2
    assert result["trigger_to_first_cell_ms"]["p50"] > 0 and result["kernel_ms"]["p50"] > 0
    assert result["trigger_to_finished_event_ms"]["max"] >= result["kernel_ms"]["max"] * 0.5


def test_notifications_benchmark():
    result = run("notifications.py", "--count", "5", "--timeout", "1")
    assert result["notification_after_create_sent_ms"]["p50"] > 0
    assert set(result["create_request_ms"]) == {"no_channel", "healthy_channel", "hanging_channel"}
    assert "timed out" in result["a_hanging_attempt_recorded"]


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk); .ci/run installs it")
def test_http_ab_benchmark():
    """Two checkouts side by side (here the same one twice)."""
    root = str(BENCHMARKS.parent)
    result = run("http_ab.py", "--a", root, "--b", root, "--rounds", "1", "--seconds", "1", "--prefill", "0",
                 "--fsync", "never")
    assert result["a"]["requests_per_s"] > 0 and result["b"]["server_cpu_us_per_request"] > 0
    assert all(run["non_2xx"] == 0 for side in ("a", "b") for run in result["runs"][side])
