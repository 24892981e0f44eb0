"""Notifications: how soon a new request reaches a channel, and what a hanging channel costs the request.

Starts a real Jupyter server with the extension and, in this process, a json:// receiver on a free
loopback port. Then:

1. ``delivery``: creates ``--count`` input requests one after the other, each waiting for its notification
   to arrive, and reports the time from sending the create request to the notification's arrival.
2. ``create_request``: times ``POST /v1/agent-session-input-requests`` (``--count`` each) with no channel,
   with the healthy channel of (1), and with a channel whose service accepts the connection and never
   answers (every send runs into ``notification_timeout``): the request must not wait for it. A channel
   costs the server some work beside the request (a fresh approval link and a delivery record are written
   for each message); a hanging one must cost no more than a healthy one.

Prints one JSON object. Usage: ``python benchmarks/notifications.py [--count 100] [--timeout 2]``
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
import tornado.httpserver  # noqa: E402
import tornado.web  # noqa: E402
from tornado.testing import bind_unused_port  # noqa: E402

from benchmarks.common import percentile, temporary_server  # noqa: E402

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}}


class Arrivals(tornado.web.RequestHandler):
    def initialize(self, arrivals: dict[str, float], hang: asyncio.Event) -> None:
        self.arrivals = arrivals
        self.hang = hang

    async def post(self, path: str) -> None:
        if path == "hang":
            await self.hang.wait()  # never answers while the benchmark runs
            return
        # The title names the request ("bench: <key>"): the key is what the benchmark waits for.
        self.arrivals[json.loads(self.request.body)["title"].rpartition(" ")[2]] = time.perf_counter()
        self.finish("ok")


def summary(values: list[float]) -> dict:
    return {"p50": percentile(values, 0.5), "p90": percentile(values, 0.9), "p99": percentile(values, 0.99),
            "max": round(max(values), 2), "mean": round(statistics.mean(values), 2)}


async def run(api: str, token: str, count: int) -> dict:
    arrivals: dict[str, float] = {}
    hang = asyncio.Event()
    sock, port = bind_unused_port()
    server = tornado.httpserver.HTTPServer(tornado.web.Application(
        [(r"/(.*)", Arrivals, {"arrivals": arrivals, "hang": hang})]))
    server.add_sockets([sock])
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"token {token}"}, timeout=60) as client:
        agent = (await client.post("/agents", json={"name": "bench"})).json()
        session = (await client.post("/agent-sessions", json={"agent_id": agent["id"]})).json()

        async def create(key: str) -> float:
            started = time.perf_counter()
            reply = await client.post("/agent-session-input-requests", json={
                "session_id": session["id"], "agent_id": agent["id"], "key": key, "title": key, "message": "m",
                "schema": SCHEMA})
            if reply.status_code != 201:
                raise RuntimeError(reply.text)
            return started

        async def create_ms(key: str) -> float:
            started = await create(key)
            return (time.perf_counter() - started) * 1000

        for i in range(20):  # warm up (connections, first Apprise load)
            await create_ms(f"warm{i}")
        baseline = [await create_ms(f"plain{i}") for i in range(count)]

        channel = (await client.post("/notification-channels", json={
            "name": "local", "url": f"json://127.0.0.1:{port}/ok"})).json()
        latencies = []
        for i in range(count):
            key = f"n{i}"
            started = await create(key)
            deadline = time.monotonic() + 10
            while key not in arrivals and time.monotonic() < deadline:
                await asyncio.sleep(0.0005)
            if key not in arrivals:
                raise RuntimeError(f"notification {key} never arrived")
            latencies.append((arrivals[key] - started) * 1000)
        # back to back, as the other two series: the messages' work overlaps the next requests
        with_healthy = [await create_ms(f"ok{i}") for i in range(count)]
        deadline = time.monotonic() + 30
        while sum(k.startswith("ok") for k in arrivals) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await client.patch(f"/notification-channels/{channel['id']}", json={"enabled": False})

        await client.post("/notification-channels", json={"name": "hanging", "url": f"json://127.0.0.1:{port}/hang"})
        with_hanging = [await create_ms(f"hang{i}") for i in range(count)]
        deadline = time.monotonic() + 10  # the first sends run into the timeout while the rest wait for a thread
        failed = []
        while not failed and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            failed = (await client.get("/notification-deliveries", params={"ok": "false"})).json()["items"]
    hang.set()
    server.stop()
    return {
        "requests": count,
        "notification_after_create_sent_ms": summary(latencies),
        "create_request_ms": {"no_channel": summary(baseline), "healthy_channel": summary(with_healthy),
                              "hanging_channel": summary(with_hanging)},
        "a_hanging_attempt_recorded": failed[0]["error"] if failed else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=2.0, help="notification_timeout of the server")
    args = parser.parse_args()
    with temporary_server("notifications", "--OpenSinkApp.fsync=always",
                          f"--OpenSinkApp.notification_timeout={args.timeout}",
                          "--OpenSinkApp.notification_retry_seconds=1") as server:
        result = asyncio.run(run(server.api, server.token, args.count))
    print(json.dumps({"benchmark": "notifications", "notification_timeout": args.timeout, **result}, indent=2))


if __name__ == "__main__":
    main()
