"""The MCP endpoint: what a tool call costs next to the same HTTP call, and how soon a waiting
``ask_human`` returns once a person answers.

Starts a real Jupyter server with the extension (fresh database, loopback), then, in each protocol
era the SDK speaks (``auto`` adopts the stateless 2026-07-28 protocol, ``legacy`` the handshake
with a session):

- ``write_item`` through the official MCP client, ``--count`` times one after the other, against
  ``POST /v1/sink-items`` with the same body over httpx (one keep-alive connection each);
- ``ask_human`` answered over HTTP, ``--asks`` times: the clock runs from sending the resolve to
  the tool call's result arriving.

The server's own share of each call comes from its request log (``server_*_ms``): the rest of a
tool call's time is the MCP client library, on the same two cores.

Prints one JSON object. Usage: ``python benchmarks/mcp_calls.py [--count 300] [--asks 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import httpx2  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from benchmarks.common import percentile, temporary_server  # noqa: E402


def summary(samples: list[float]) -> dict:
    if not samples:
        return {"p50": None, "p99": None, "n": 0}
    return {"p50": percentile(samples, 0.5), "p99": percentile(samples, 0.99), "n": len(samples)}


async def http_items(api: str, key: str, sink_id: str, count: int) -> list[float]:
    took = []
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        for n in range(count):
            started = time.perf_counter()
            reply = await http.post("/sink-items", json={"sink_id": sink_id, "title": f"http {n}"})
            took.append((time.perf_counter() - started) * 1000)
            assert reply.status_code == 201, reply.text
    return took


async def mcp_era(url: str, api: str, key: str, sink_id: str, mode: str, count: int, asks: int) -> dict:
    items, answers = [], []
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http, \
            httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30) as rest:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            await client.list_tools()
            for n in range(count):
                started = time.perf_counter()
                result = await client.call_tool("write_item", {"sink_id": sink_id, "title": f"mcp {n}"})
                items.append((time.perf_counter() - started) * 1000)
                assert not result.is_error, result
            for n in range(asks):
                call = asyncio.create_task(client.call_tool("ask_human", {
                    "title": f"ask {n}", "message": "m", "agent_name": f"bench-{mode}", "timeout_seconds": 60}))
                while True:  # the request exists once the call has made it
                    pending = (await rest.get("/agent-session-input-requests", params={
                        "status": "pending", "$limit": 1})).json()["items"]
                    if pending:
                        break
                    await asyncio.sleep(0.005)
                await asyncio.sleep(0.02)  # let the call settle into its wait
                sent = time.perf_counter()
                reply = await rest.post(f"/agent-session-input-requests/{pending[0]['id']}/resolve",
                                        json={"response": {"approved": True}})
                assert reply.status_code == 200, reply.text
                result = await call
                answers.append((time.perf_counter() - sent) * 1000)
                assert result.structured_content["status"] == "resolved", result
    return {"write_item_ms": summary(items), "answer_after_resolve_sent_ms": summary(answers)}


async def server_times(admin: httpx.AsyncClient, path: str, since: str) -> list[float]:
    """The server's own time for each POST to ``path`` since then (from its request log)."""
    await asyncio.sleep(1.5)  # the log is written once a second
    times, trail = [], None
    while True:
        params = {"path": path, "since": since, "$limit": 500, **({"$trail": trail} if trail else {})}
        page = (await admin.get("/request-logs", params=params)).json()
        times += [e["duration_ms"] for e in page["items"] if e["method"] == "POST" and e["path"] == path]
        trail = page["trail"]
        if trail is None:
            return times


def now() -> str:
    from jupyter_opensink import ids

    return ids.now_iso()


async def run(server, count: int, asks: int) -> dict:
    base = httpx.URL(server.url).path
    async with httpx.AsyncClient(base_url=server.api, headers={"Authorization": f"token {server.token}"},
                                 timeout=30) as admin:
        key = (await admin.post("/api-keys", json={"name": "bench"})).json()["key"]
        sink = (await admin.post("/sinks", json={"name": "bench"})).json()
        since = now()
        http = await http_items(server.api, key, sink["id"], count)
        http_server = await server_times(admin, f"{base}/api/v1/sink-items", since)
        eras = {}
        for mode in ("auto", "legacy"):
            since = now()
            writes = await mcp_era(f"{server.url}/mcp", server.api, key, sink["id"], mode, count, 0)
            # every POST of the phase: the write_item calls and the few of the connection's start
            writes["server_write_item_ms"] = summary(await server_times(admin, f"{base}/mcp", since))
            answers = await mcp_era(f"{server.url}/mcp", server.api, key, sink["id"], mode, 0, asks)
            eras[mode] = {**writes, "answer_after_resolve_sent_ms": answers["answer_after_resolve_sent_ms"]}
    return {"count": count, "asks": asks, "http_item_create_ms": summary(http),
            "server_item_create_ms": summary(http_server), "mcp": eras,
            "write_item_over_http_p50": {mode: round(era["write_item_ms"]["p50"] / summary(http)["p50"], 2)
                                         for mode, era in eras.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="write_item calls (and HTTP creates) per era")
    parser.add_argument("--asks", type=int, default=50, help="ask_human calls answered per era")
    parser.add_argument("--fsync", choices=["always", "never"], default="always")
    args = parser.parse_args()
    with temporary_server("mcp", f"--OpenSinkApp.fsync={args.fsync}") as server:
        result = asyncio.run(run(server, args.count, args.asks))
    print(json.dumps({"benchmark": "mcp", "fsync": args.fsync, **result}, indent=2))


if __name__ == "__main__":
    main()
