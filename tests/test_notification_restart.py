"""Reminders survive a restart: their due times come from the stored request, and each is sent once.

A real server process is stopped between a request's creation and its first reminder, and started again
only after the reminder fell due: it sends that reminder at start, once, and a second restart does not
send it again.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .servers import start_server

pytestmark = pytest.mark.system
#: Seconds. The first reminder must not fall due before the server is stopped (the creation's message
#: arrives and the server stops, about 2 s on a busy machine); every later step holds whenever it falls due.
REMIND_EVERY = 10
PASSWORD = "never-in-the-log-42"


class Messages:
    """A threaded json:// receiver on 127.0.0.1 keeping each message's title."""

    def __init__(self) -> None:
        self.titles: list[str] = []
        messages = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                messages.titles.append(json.loads(raw)["title"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, title_start: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(t.startswith(title_start) for t in self.titles):
            assert time.monotonic() < deadline, (title_start, self.titles)
            time.sleep(0.05)


def test_a_reminder_due_while_the_server_was_down_is_sent_once_at_start(tmp_path):
    messages = Messages()
    args = ("--OpenSinkApp.fsync=always", "--OpenSinkApp.notification_min_remind_seconds=1")
    server = start_server(tmp_path / "work", tmp_path / "db", *args)
    try:
        with server.client() as api:
            assert api.post("/notification-channels", json={
                "name": "team", "url": f"json://ops:{PASSWORD}@127.0.0.1:{messages.port}/team"}).status_code == 201
            agent = api.post("/agents", json={"name": "nightly"}).json()
            session = api.post("/agent-sessions", json={"agent_id": agent["id"]}).json()
            request = api.post("/agent-session-input-requests", json={
                "session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "Deploy?",
                "message": "m", "schema": {"type": "object"}, "remind_every_seconds": REMIND_EVERY}).json()
            created = time.time()
        messages.wait_for("nightly: Deploy?")
        server.stop()
        time.sleep(max(0.0, created + REMIND_EVERY + 0.5 - time.time()))  # the reminder falls due while down
        assert messages.titles == ["nightly: Deploy?"]
        server = start_server(tmp_path / "work", tmp_path / "db", *args, token=server.token)
        messages.wait_for("Reminder 1: nightly: Deploy?")
        server.stop()  # and once more: the reminder it sent is not sent again
        server = start_server(tmp_path / "work", tmp_path / "db", *args, token=server.token)
        with server.client() as api:
            reply = api.post(f"/agent-session-input-requests/{request['id']}/resolve", json={"response": {}})
            assert reply.status_code == 200, reply.text
            answered = time.time()
            time.sleep(1.0)  # a reminder sent just before the answer is recorded
            records = api.get("/notification-deliveries", params={"request_id": request["id"]}).json()["items"]
        assert messages.titles[:2] == ["nightly: Deploy?", "Reminder 1: nightly: Deploy?"]
        # On a slow machine the second start may come after reminder 2 fell due: it is sent then, once.
        reminders = [t for t in messages.titles if t.startswith("Reminder")]
        assert len(reminders) == len(set(reminders)) <= int((answered - created) // REMIND_EVERY), messages.titles
        assert sorted(r["event"] for r in records) == ["input_request.created"] + ["input_request.reminder"] * len(
            reminders)
        logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "work").glob("server-*.log"))
        assert "json://" not in logs and PASSWORD not in logs  # the channel's URL never reaches the server's log
    finally:
        server.stop()
        messages.server.shutdown()
