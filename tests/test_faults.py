"""A server under concurrent load from several client processes, killed with SIGKILL at random
moments, restarted on the same database: nothing acknowledged is lost or doubled, every answered
input request has its callback delivered or its session failed, and the audit log's chain verifies
with one record for every acknowledged answer."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .servers import free_port, start_server

WORKERS = 3
ROUNDS = 4
MAX_OPS = 400  # per worker, over all rounds
ROOT = Path(__file__).parents[1]


class CallbackLog(BaseHTTPRequestHandler):
    """The agents' execution endpoint: records each request id it is called with."""

    seen: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        CallbackLog.seen.append(json.loads(body)["request_id"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def finished_lines(path: Path) -> int:
    """Entries the worker has written so far (a line being written has no newline yet)."""
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_sigkill_under_load_loses_and_doubles_nothing(tmp_path):
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), CallbackLog)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    callback_url = f"http://127.0.0.1:{receiver.server_port}/agent"
    port, token, rng = free_port(), "fault-test-token", random.Random(20261125)
    # fsync on every write, and compaction every 64 KiB of journal, so kills also land mid-compaction
    options = ("--OpenSinkApp.fsync=always", "--OpenSinkApp.compact_min_bytes=65536")
    server = start_server(tmp_path / "work", tmp_path / "db", *options, port=port, token=token)
    with server.client() as admin:
        key = admin.post("/api-keys", json={"name": "load"}).json()["key"]
        # the workers' "auto" requests are decided by it as they are created: that write is killed too
        assert admin.post("/approval-policies", json={"name": "auto", "decision": "approve",
                                                      "request_key": "auto"}).status_code == 201
    logs = [tmp_path / f"worker-{w}.log" for w in range(WORKERS)]
    kills = []
    try:
        for round_ in range(ROUNDS):
            workers = [subprocess.Popen([sys.executable, "-m", "tests.fault_worker", server.api, key, f"w{w}",
                                         str(logs[w]), str(MAX_OPS), callback_url], cwd=ROOT)
                       for w in range(WORKERS)]
            time.sleep(rng.uniform(1.5, 4.0))
            kills.append(sum(len(read_log(log)) for log in logs))
            server.stop(signal.SIGKILL)
            for worker in workers:
                worker.wait(timeout=60)
            server = start_server(tmp_path / "work", tmp_path / "db", *options, port=port, token=token)
            check_everything_acknowledged_is_there_once(server, logs)
            check_audit_chain(server, logs)
        check_callbacks_settled(server, logs)
    finally:
        server.stop()
        receiver.shutdown()
    acknowledged = sum(len(read_log(log)) for log in logs)
    assert acknowledged > 100 and kills == sorted(kills), kills  # the load really ran between kills


def check_everything_acknowledged_is_there_once(server, logs: list[Path]) -> None:
    with server.client() as admin:
        titles: dict[str, int] = {}
        trail = None
        while True:
            page = admin.get("/sink-items", params={"$limit": 500, **({"$trail": trail} if trail else {})}).json()
            for item in page["items"]:
                titles[item["title"]] = titles.get(item["title"], 0) + 1
            trail = page["trail"]
            if not trail:
                break
        doubled = {title: n for title, n in titles.items() if n > 1}
        assert not doubled, doubled
        for log in logs:
            for entry in read_log(log):
                if entry["kind"] == "item" and entry["status"] == 201:
                    assert titles.get(entry["title"]) == 1, entry
                    assert admin.get(f"/sink-items/{entry['id']}").status_code == 200, entry
                elif entry["kind"] == "resolve" and entry["status"] == 200:
                    request = admin.get(f"/agent-session-input-requests/{entry['id']}").json()
                    assert request["status"] == "resolved", (entry, request)
        requests = admin.get("/agent-session-input-requests", params={"$limit": 500}).json()["items"]
        per_title: dict[str, int] = {}
        for request in requests:
            per_title[request["title"]] = per_title.get(request["title"], 0) + 1
        assert all(n == 1 for n in per_title.values()), per_title  # no input request asked twice


def check_audit_chain(server, logs: list[Path]) -> None:
    """The chain verifies after the kill, and each acknowledged answer has exactly one record."""
    with server.client() as admin:
        verified = admin.get("/audit-log/verify").json()
        assert verified["ok"] and verified["first_bad"] is None, verified
        exported = admin.get("/audit-log", params={"format": "jsonl"}).text.splitlines()
    recorded = [json.loads(line)["request_id"] for line in exported]
    assert len(recorded) == verified["records"] and len(set(recorded)) == len(recorded)
    answered = {e["id"] for log in logs for e in read_log(log) if e["kind"] == "resolve" and e["status"] == 200}
    assert answered <= set(recorded), f"{len(answered - set(recorded))} acknowledged answers have no record"
    assert any((e.get("by") or "").startswith("policy:") for log in logs for e in read_log(log))


def check_callbacks_settled(server, logs: list[Path]) -> None:
    """Every acknowledged resolve: the agent was called, or its session failed saying why."""
    resolved = [e for log in logs for e in read_log(log) if e["kind"] == "resolve" and e["status"] == 200]
    assert resolved, "no resolve was acknowledged"
    deadline = time.monotonic() + 30
    with server.client() as admin:
        while True:
            unsettled = []
            for entry in resolved:
                if entry["id"] in CallbackLog.seen:
                    continue
                session = admin.get(f"/agent-sessions/{entry['session_id']}").json()
                if session["status"] != "failed":
                    unsettled.append(entry["id"])
            if not unsettled or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert not unsettled, f"{len(unsettled)} of {len(resolved)} answered requests were never delivered"


def test_graceful_stop_settles_callbacks_and_keeps_every_write(tmp_path):
    """SIGTERM while writes and callbacks are in flight: those requests get answers, callbacks are
    made before the database closes, and everything acknowledged is there after the restart."""
    CallbackLog.seen = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), CallbackLog)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    server = start_server(tmp_path / "work", tmp_path / "db", "--OpenSinkApp.fsync=always")
    log = tmp_path / "worker.log"
    with server.client() as admin:
        key = admin.post("/api-keys", json={"name": "load"}).json()["key"]
    worker = subprocess.Popen([sys.executable, "-m", "tests.fault_worker", server.api, key, "g", str(log), "100000",
                               f"http://127.0.0.1:{receiver.server_port}/agent"], cwd=ROOT)
    try:
        # Stop once the load is well under way (a fixed sleep gave a loaded machine too few writes).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and finished_lines(log) < 25 and worker.poll() is None:
            time.sleep(0.2)
        assert server.stop(signal.SIGTERM) == 0
        worker.wait(timeout=60)
        entries = read_log(log)
        answered = [e for e in entries if e["kind"] == "resolve" and e["status"] == 200]
        assert len(entries) > 20 and answered
        # no waiting here: the stop itself made (or failed) every callback
        server = start_server(tmp_path / "work", tmp_path / "db", "--OpenSinkApp.fsync=always")
        with server.client() as admin:
            for entry in answered:
                failed = admin.get(f"/agent-sessions/{entry['session_id']}").json()["status"] == "failed"
                assert entry["id"] in CallbackLog.seen or failed, entry
        check_everything_acknowledged_is_there_once(server, [log])
        assert "Traceback" not in server.log()
    finally:
        server.stop()
        receiver.shutdown()
        if worker.poll() is None:
            worker.kill()

