"""Callback latency: from sending a resolve to the agent's endpoint receiving the call.

Starts a real Jupyter server with the extension and a receiver on a free
loopback port in this process; resolves 1,000 input requests one after the
other. Prints one JSON object. Usage: ``python benchmarks/callbacks.py [--count 1000]``
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
    def initialize(self, arrivals: dict[str, float]) -> None:
        self.arrivals = arrivals

    def post(self) -> None:
        self.arrivals[self.request.headers["X-OpenSink-Request-Id"]] = time.perf_counter()
        self.finish("ok")



async def run(api: str, token: str, count: int) -> dict:
    arrivals: dict[str, float] = {}
    sock, port = bind_unused_port()
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/run", Arrivals, {"arrivals": arrivals})]))
    server.add_sockets([sock])
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"token {token}"}, timeout=30) as client:
        agent = (await client.post("/agents", json={"name": "bench", "execution_endpoint": {
            "url": f"http://127.0.0.1:{port}/run"}})).json()
        requests = []
        for _ in range(count):
            session = (await client.post("/agent-sessions", json={"agent_id": agent["id"]})).json()
            requests.append((await client.post("/agent-session-input-requests", json={
                "session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "t", "message": "m",
                "schema": SCHEMA})).json()["id"])
        # The timed resolves go over one keep-alive connection written by hand, so that the
        # clock starts when the request's bytes are sent, not while a client library builds them.
        # They use an API key, as the notebook inbox (the kernels' key) and agents do.
        key = (await client.post("/api-keys", json={"name": "resolver"})).json()["key"]
        url = httpx.URL(api)
        reader, writer = await asyncio.open_connection(url.host, url.port)
        body = json.dumps({"response": {"ok": True}}).encode()
        latencies, resolve_ms, after_answer = [], [], []
        for request_id in requests:
            head = (f"POST {url.raw_path.decode()}/agent-session-input-requests/{request_id}/resolve HTTP/1.1\r\n"
                    f"Host: {url.host}:{url.port}\r\nAuthorization: Bearer {key}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            sent = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            answered = time.perf_counter()
            if b" 200 " not in status_line:
                raise RuntimeError(f"resolve failed: {status_line!r}")
            deadline = time.monotonic() + 10
            while request_id not in arrivals and time.monotonic() < deadline:
                await asyncio.sleep(0.0005)
            latencies.append((arrivals[request_id] - sent) * 1000)
            resolve_ms.append((answered - sent) * 1000)
            after_answer.append((arrivals[request_id] - answered) * 1000)
        writer.close()
    server.stop()
    return {
        "resolves": count,
        "callback_after_resolve_sent_ms": {"p50": percentile(latencies, 0.5), "p90": percentile(latencies, 0.9),
                                           "p99": percentile(latencies, 0.99), "max": round(max(latencies), 2),
                                           "mean": round(statistics.mean(latencies), 2)},
        "resolve_round_trip_ms": {"p50": percentile(resolve_ms, 0.5), "p99": percentile(resolve_ms, 0.99)},
        # The outbound part alone: the callback's arrival minus the resolve's answer (the durable write
        # is over by then). Can be negative: the call is started before the answer is written out.
        "callback_after_resolve_answered_ms": {"p50": percentile(after_answer, 0.5),
                                               "p90": percentile(after_answer, 0.9),
                                               "p99": percentile(after_answer, 0.99)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--fsync", default="always")
    args = parser.parse_args()
    with temporary_server("callbacks", f"--OpenSinkApp.fsync={args.fsync}") as server:
        result = asyncio.run(run(server.api, server.token, args.count))
    print(json.dumps({"benchmark": "callbacks", "fsync": args.fsync, **result}, indent=2))


if __name__ == "__main__":
    main()
