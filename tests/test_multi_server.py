"""Two real Jupyter servers on one PostgreSQL database behave like one."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from .servers import start_server

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


class Hits:
    """A threaded HTTP receiver on 127.0.0.1 counting requests by path."""

    def __init__(self) -> None:
        self.paths: Counter[str] = Counter()
        self.bodies: list[tuple[str, dict]] = []
        hits = self

        class Handler(BaseHTTPRequestHandler):
            def _hit(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                hits.paths[self.path] += 1
                hits.bodies.append((self.path, json.loads(raw) if raw else {}))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_GET = do_PUT = _hit

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


#: One worker runs the module, so the pair of servers the tests share starts once.
pytestmark = pytest.mark.xdist_group("multi_server")


@contextlib.contextmanager
def server_pair(base: Path, database_url: str, *extra: str):
    """Two servers on one PostgreSQL database, stopped at the end."""
    args = (f"--OpenSinkApp.database_url={database_url}", "--OpenSinkApp.fsync=never",
            "--OpenSinkApp.callback_timeout=5", "--OpenSinkApp.notification_min_remind_seconds=1", *extra)
    servers = []
    try:
        for name in ("a", "b"):
            servers.append(start_server(base / name, base / f"unused-db-{name}", *args))
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory, pg_cluster):
    """A pair shared by the module's tests that leave both servers running (each makes its own objects)."""
    url = pg_cluster.create_database()
    with server_pair(tmp_path_factory.mktemp("pair"), url) as servers:
        yield servers
    pg_cluster.drop_database(url)


@pytest.fixture
def own_two_servers(tmp_path, pg_database):
    """A pair for one test alone (it stops one of them)."""
    with server_pair(tmp_path, pg_database) as servers:
        yield servers


@pytest.fixture
def hits():
    receiver = Hits()
    yield receiver
    receiver.close()


def wait_until(check, timeout: float = 15.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(step)


def test_data_and_events_cross_servers(two_servers):
    a, b = two_servers
    seen: list[dict] = []
    connected = threading.Event()

    def listen():
        with httpx.stream("GET", b.api + "/events", headers={"Authorization": f"token {b.token}"},
                          timeout=httpx.Timeout(30, read=20)) as reply:
            connected.set()
            for line in reply.iter_lines():
                if line.startswith("data:"):
                    seen.append(json.loads(line[5:]))
                if any(e.get("title") == "from a" or e.get("data", {}).get("title") == "from a" for e in seen):
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert connected.wait(15)
    time.sleep(0.3)
    with a.client() as on_a, b.client() as on_b:
        sink = on_a.post("/sinks", json={"name": "shared"}).json()
        item = on_a.post(f"/sinks/{sink['id']}/items", json={"title": "from a"}).json()
        assert on_b.get(f"/sink-items/{item['id']}").json()["title"] == "from a"  # one database
        thread.join(15)
    assert not thread.is_alive(), f"b's event stream never showed a's item; saw {seen}"


def test_a_key_revoked_on_one_server_ends_its_stream_and_mcp_session_on_the_other(two_servers):
    """The revocation reaches the other server through the event relay and ends what the key
    holds open there within a second or two."""
    a, b = two_servers
    with a.client() as on_a:
        made = on_a.post("/api-keys", json={"name": "agent", "scopes": ["all:read"]}).json()
    key = {"Authorization": f"Bearer {made['key']}"}
    mcp = {**key, "Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    with httpx.Client(timeout=httpx.Timeout(10)) as http:
        opened = http.post(b.url + "/mcp", headers=mcp, json={
            "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
        assert opened.status_code == 200
        session = {**mcp, "Mcp-Session-Id": opened.headers["Mcp-Session-Id"], "Mcp-Protocol-Version": "2025-06-18"}
        http.post(b.url + "/mcp", headers=session, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        mcp_ended: list[float] = []
        mcp_open = threading.Event()

        def follow_session():  # the session's own event stream on b
            with httpx.stream("GET", b.url + "/mcp", headers={**session, "Accept": "text/event-stream"},
                              timeout=10) as events:
                mcp_open.set()
                for _ in events.iter_bytes():
                    pass
            mcp_ended.append(time.monotonic())

        follower = threading.Thread(target=follow_session, daemon=True)
        follower.start()
        assert mcp_open.wait(10)
        with http.stream("GET", b.api + "/events", headers=key) as live:
            assert live.status_code == 200
            lines = live.iter_lines()
            assert next(lines) == ": connected"
            with a.client() as on_a:
                assert on_a.delete(f"/api-keys/{made['id']}").status_code == 200
            revoked = time.monotonic()
            rest = list(lines)  # until b ends the stream (the read timeout bounds it)
            ended = time.monotonic() - revoked
        listing = http.post(b.url + "/mcp", headers=session, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        follower.join(10)
    assert ": closed: the API key was revoked" in rest and ended < 2, (rest, ended)
    assert mcp_ended and mcp_ended[0] - revoked < 2
    assert listing.status_code == 401


def relaying(a, b, timeout: float = 20.0) -> None:
    """Waits until b hears a's events: a server answers requests a moment before its relay listens."""
    heard = threading.Event()

    def listen():
        with httpx.stream("GET", b.api + "/events", params={"types": "sink.created"},
                          headers={"Authorization": f"token {b.token}"}, timeout=httpx.Timeout(30, read=timeout)) as reply:
            for line in reply.iter_lines():
                if line.startswith("data:"):
                    heard.set()
                    return

    threading.Thread(target=listen, daemon=True).start()
    deadline = time.monotonic() + timeout
    with a.client() as on_a:
        while not heard.wait(0.5) and time.monotonic() < deadline:
            on_a.post("/sinks", json={"name": "relay check"})
    assert heard.is_set(), "b never heard a's events"


def test_a_key_revoked_on_one_server_is_refused_at_once_on_the_other(tmp_path, pg_database):
    """The other server remembers the key as checked (for an hour here, so only the relayed revocation can
    end that), yet refuses it as soon as the revocation arrives."""
    with server_pair(tmp_path, pg_database, "--OpenSinkApp.api_key_cache_seconds=3600") as (a, b):
        relaying(a, b)
        with a.client() as on_a:
            made = on_a.post("/api-keys", json={"name": "agent", "scopes": ["all:read"]}).json()
        def status_on_b() -> int:  # a new connection each time: the server closes one it answered 401 on
            with b.client(made["key"]) as on_b:
                return on_b.get("/sinks").status_code

        with a.client() as on_a:
            for _ in range(3):
                assert status_on_b() == 200
            assert on_a.delete(f"/api-keys/{made['id']}").status_code == 200
            revoked = time.monotonic()
            assert wait_until(lambda: status_on_b() == 401, timeout=10, step=0.02)
            refused_after = time.monotonic() - revoked
            assert status_on_b() == 401
    assert refused_after < 5, refused_after


def test_request_made_on_one_resolved_on_the_other_calls_the_agent_once(two_servers, hits):
    a, b = two_servers
    with a.client() as on_a, b.client() as on_b:
        agent = on_a.post("/agents", json={"name": "x", "execution_endpoint": {"url": hits.url("/agent")}}).json()
        session = on_a.post("/agent-sessions", json={"agent_id": agent["id"]}).json()
        request = on_a.post("/agent-session-input-requests", json={
            "session_id": session["id"], "agent_id": agent["id"], "key": "go", "title": "Go?", "message": "m",
            "schema": SCHEMA}).json()
        # Both servers try to resolve it: exactly one wins.
        replies = [c.post(f"/agent-session-input-requests/{request['id']}/resolve", json={"response": {"ok": True}})
                   for c in (on_b, on_a)]
        assert [r.status_code for r in replies] == [200, 409]
        assert wait_until(lambda: hits.paths["/agent"] >= 1)
        time.sleep(1.5)  # room for a second (wrong) call
        assert hits.paths["/agent"] == 1
        assert hits.bodies[0][1]["request_id"] == request["id"]
        deliveries = on_a.get("/execution-deliveries", params={"request_id": request["id"]}).json()["items"]
        assert len(deliveries) == 1 and deliveries[0]["status_code"] == 200


def test_a_job_fires_once_per_due_time(own_two_servers, hits):
    a, b = own_two_servers
    with a.client() as on_a, b.client() as on_b:
        job = on_a.post("/background-jobs", json={"name": "tick", "cron": "* * * * * *",
                                                 "url": hits.url("/job")}).json()
        assert wait_until(lambda: hits.paths["/job"] >= 4, timeout=20)
        a.stop()  # b scheduled the job too (it heard of it from a): the runs go on
        after_a = hits.paths["/job"]
        assert wait_until(lambda: hits.paths["/job"] >= after_a + 3, timeout=20), "b never fired a's job"
        on_b.patch(f"/background-jobs/{job['id']}", json={"enabled": False})
        time.sleep(1.5)
        runs = on_b.get("/background-job-runs", params={"job_id": job["id"], "limit": 100}).json()["items"]
    fired = [r for r in runs if r["status"] != "skipped"]
    due_times = [r["scheduled_for"] for r in fired]
    assert len(due_times) == len(set(due_times)), Counter(due_times).most_common(3)
    assert hits.paths["/job"] == len(fired) >= 7


def test_two_servers_answering_at_once_keep_one_audit_chain(two_servers):
    """Answers given on both servers at the same moment are appended to one chain: each server's appends wait
    on the chain's head row, so neither forks it, and every answer has exactly one record."""
    from concurrent.futures import ThreadPoolExecutor

    a, b = two_servers
    with a.client() as on_a:
        agent = on_a.post("/agents", json={"name": "audited"}).json()
        session = on_a.post("/agent-sessions", json={"agent_id": agent["id"]}).json()
        requests = [on_a.post("/agent-session-input-requests", json={
            "session_id": session["id"], "agent_id": agent["id"], "key": "go", "title": f"Go {n}?", "message": "m",
            "schema": SCHEMA, "defaults": {"ok": True}, "decisions": ["approve", "reject"]}).json()
            for n in range(60)]

    def answer(pair: tuple[int, dict]) -> int:
        n, request = pair
        server = (a, b)[n % 2]
        with server.client() as client:
            return client.post(f"/agent-session-input-requests/{request['id']}/resolve",
                               json={"decision": "approve", "response": {"ok": True}}).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(answer, enumerate(requests)))
    assert statuses == [200] * len(requests)
    for server in (a, b):
        with server.client() as client:
            verified = client.get("/audit-log/verify").json()
            assert verified["ok"] and verified["first_bad"] is None, verified
            exported = [json.loads(line) for line in client.get("/audit-log", params={"format": "jsonl"}).text
                        .splitlines()]
    assert [r["seq"] for r in exported] == list(range(1, len(exported) + 1))
    ours = Counter(r["request_id"] for r in exported if r["agent_id"] == agent["id"])
    assert ours == Counter({r["id"]: 1 for r in requests})


def test_each_reminder_is_sent_once_by_one_of_the_servers(two_servers, hits):
    """Both servers arm the request's reminders (the relay tells b of a's new request); each due time is
    claimed once in the shared database, so every reminder arrives once."""
    a, b = two_servers
    with a.client() as api:
        assert api.post("/notification-channels", json={
            "name": "team", "url": f"json://127.0.0.1:{hits.port}/remind"}).status_code == 201
        agent = api.post("/agents", json={"name": "reminded"}).json()
        session = api.post("/agent-sessions", json={"agent_id": agent["id"]}).json()
        request = api.post("/agent-session-input-requests", json={
            "session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "Still there?",
            "message": "m", "schema": {"type": "object"}, "remind_every_seconds": 1}).json()

    def reminders() -> list[str]:
        return [body["title"] for path, body in list(hits.bodies) if path == "/remind" and "Reminder" in body["title"]]

    assert wait_until(lambda: len(reminders()) >= 4, timeout=30), reminders()
    with b.client() as api:
        assert api.post(f"/agent-session-input-requests/{request['id']}/resolve",
                        json={"response": {}}).status_code == 200
    time.sleep(1.5)
    seen = Counter(reminders())
    assert seen and all(count == 1 for count in seen.values()), seen
    numbers = sorted(int(title.split()[1].rstrip(":")) for title in seen)
    assert numbers == list(range(1, len(numbers) + 1)), numbers  # none skipped either
    with a.client() as api:
        api.delete(f"/agent-sessions/{session['id']}")
        for channel in api.get("/notification-channels").json()["items"]:
            api.delete(f"/notification-channels/{channel['id']}")
