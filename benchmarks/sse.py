"""SSE fan-out: many subscribers on GET /v1/events, events produced by HTTP item writes.

Starts a real Jupyter server with the extension; opens ``--subscribers`` streams
with an API key (``types=item.created``), then creates ``--events`` items one
after the other over a keep-alive connection, one every ``--interval-ms``, from a
separate process. Each item carries the moment its request was sent
(``fields.sent_at``, the system-wide monotonic clock), so the latency of each delivery is the arrival at each
subscriber minus that moment: it includes the durable write itself. Arrivals are
also given against the write's acknowledgement, and the spread of one event over
all subscribers (last arrival minus first).

Subscribers are raw asyncio protocols that only timestamp and keep what they
read; the streams are parsed after the run, so the client adds as little as
possible to what it measures. Bounded by the counts and by ``--timeout``.
Prints one JSON object. Usage:
``python benchmarks/sse.py [--subscribers 100] [--events 500] [--interval-ms 50]``;
``--subscribers 100,1000`` measures each count on a fresh server, the first at the top
level of the output and the others under ``more_subscribers``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import psutil  # noqa: E402

from benchmarks.common import percentile, temporary_server  # noqa: E402

ITEM = {"title": "Fan-out item", "body": "Observed a change in the upstream dataset.", "type": "note"}


class Subscriber(asyncio.Protocol):
    """Keeps every read with its arrival time; parses nothing while the clock runs."""

    def __init__(self) -> None:
        self.reads: list[tuple[float, bytes]] = []
        self.seen = 0  # item.created markers seen so far (approximate: a marker may straddle reads)
        self.connected = asyncio.get_running_loop().create_future()
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.reads.append((time.perf_counter(), data))
        self.seen += data.count(b"event: item.created")
        if not self.connected.done() and b": connected" in data:
            self.connected.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.connected.done():
            self.connected.set_exception(ConnectionError("stream closed before it was connected"))

    def events(self) -> list[tuple[float, str, bytes]]:
        """(arrival, event type, data) of each complete event, from the chunked HTTP/1.1 body."""
        raw = b"".join(data for _, data in self.reads)
        ends, total = [], 0  # raw offset where each read ends, to find the read holding a byte
        for _, data in self.reads:
            total += len(data)
            ends.append(total)
        body_start = raw.index(b"\r\n\r\n") + 4
        if b"transfer-encoding: chunked" not in raw[:body_start].lower():
            raise RuntimeError("expected a chunked event stream")
        # De-chunk, remembering for each piece of payload where it sits in the raw bytes.
        payload, pieces, pos = bytearray(), [], body_start
        while True:
            line_end = raw.find(b"\r\n", pos)
            if line_end < 0:
                break
            size = int(raw[pos:line_end].split(b";")[0], 16)
            if size == 0 or line_end + 2 + size > len(raw):
                break
            pieces.append((len(payload), line_end + 2))
            payload += raw[line_end + 2:line_end + 2 + size]
            pos = line_end + 2 + size + 2

        starts = [start for start, _ in pieces]

        def arrival(payload_offset: int) -> float:
            start, raw_at = pieces[bisect.bisect_right(starts, payload_offset) - 1]
            return self.reads[bisect.bisect_right(ends, raw_at + payload_offset - start)][0]

        out, cursor = [], 0
        while (end := payload.find(b"\n\n", cursor)) >= 0:
            block = bytes(payload[cursor:end])
            kind, data = None, b""
            for line in block.split(b"\n"):
                if line.startswith(b"event: "):
                    kind = line[7:].decode()
                elif line.startswith(b"data: "):
                    data = line[6:]
            if kind:
                out.append((arrival(end + 1), kind, data))
            cursor = end + 2
        return out


async def produce(url: httpx.URL, key: str, sink_id: str, count: int, interval: float,
                  deadline: float) -> list[tuple[int, float, float]]:
    """Create ``count`` items, one every ``interval`` s: (seq, sent, acknowledged) for each."""
    reader, writer = await asyncio.open_connection(url.host, url.port)
    path = f"{url.raw_path.decode()}/sink-items"
    writes = []
    next_at = time.perf_counter()
    try:
        for seq in range(count):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += interval
            sent = time.perf_counter()
            body = json.dumps({**ITEM, "sink_id": sink_id, "fields": {"seq": seq, "sent_at": sent}}).encode()
            writer.write(f"POST {path} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\nAuthorization: Bearer {key}\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if b" 201 " not in status:
                raise RuntimeError(f"item create failed: {status!r}")
            writes.append((seq, sent, time.perf_counter()))
    finally:
        writer.close()
    return writes


async def producer_process(api: str, key: str, sink_id: str, count: int, interval: float,
                           timeout: float) -> list[tuple[int, float, float]]:
    """Run the producer in its own process, so that reading the subscribers' streams here delays
    neither its sends nor its reading of the acknowledgements. Both processes read the same
    monotonic clock (CLOCK_MONOTONIC: system-wide)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--produce", json.dumps([api, key, sink_id, count, interval, timeout]),
        stdout=asyncio.subprocess.PIPE)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout + 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"producer exited with {proc.returncode}")
    return [tuple(w) for w in json.loads(out)]


def summary(values: list[float]) -> dict:
    if not values:
        return {}
    return {"p50": percentile(values, 0.5), "p90": percentile(values, 0.9), "p99": percentile(values, 0.99),
            "max": round(max(values), 2), "mean": round(statistics.mean(values), 2)}


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def run(api: str, token: str, server_pid: int, subscribers: int, events: int, interval_ms: float,
              timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"token {token}"}, timeout=30) as admin:
        key = (await admin.post("/api-keys", json={"name": "fan-out"})).json()["key"]
        sink = (await admin.post("/sinks", json={"name": "fan-out"})).json()
    url = httpx.URL(api)
    loop = asyncio.get_running_loop()
    request = (f"GET {url.raw_path.decode()}/events?types=item.created HTTP/1.1\r\n"
               f"Host: {url.host}:{url.port}\r\nAuthorization: Bearer {key}\r\n"
               f"Accept: text/event-stream\r\n\r\n").encode()
    subs: list[Subscriber] = []
    transports = []
    try:
        for _ in range(subscribers):
            transport, sub = await loop.create_connection(Subscriber, url.host, url.port)
            transport.write(request)
            transports.append(transport)
            subs.append(sub)
        await asyncio.wait_for(asyncio.gather(*(s.connected for s in subs)), max(1.0, deadline - time.monotonic()))
        started, cpu_before = time.perf_counter(), cpu_seconds(server_pid)
        writes = await producer_process(api, key, sink["id"], events, interval_ms / 1000,
                                        max(1.0, deadline - time.monotonic()))
        produced_s = (writes[-1][2] - writes[0][1]) if writes else 0.0
        # Let the last deliveries arrive (bounded by the overall deadline).
        while any(s.seen < len(writes) and not s.lost for s in subs) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        server_cpu = cpu_seconds(server_pid) - cpu_before
    finally:
        for transport in transports:
            transport.close()

    sent_at = {seq: sent for seq, sent, _ in writes}
    acked_at = {seq: acked for seq, _, acked in writes}
    after_sent, after_ack, resets, delivered = [], [], 0, 0
    arrivals_by_seq: dict[int, list[float]] = {seq: [] for seq in sent_at}
    for sub in subs:
        for arrived, kind, data in sub.events():
            if kind == "reset":
                resets += 1
            elif kind == "item.created":
                seq = json.loads(data)["fields"]["seq"]
                delivered += 1
                after_sent.append((arrived - sent_at[seq]) * 1000)
                after_ack.append((arrived - acked_at[seq]) * 1000)
                arrivals_by_seq[seq].append(arrived)
    spread = [(max(a) - min(a)) * 1000 for a in arrivals_by_seq.values() if a]
    return {
        "subscribers": subscribers, "events": len(writes), "interval_ms": interval_ms,
        "events_per_s": round(len(writes) / produced_s, 1) if produced_s else 0,
        "deliveries_expected": len(writes) * subscribers, "deliveries": delivered,
        "missing": len(writes) * subscribers - delivered, "resets": resets,
        "delivery_after_write_sent_ms": summary(after_sent),
        "delivery_after_ack_ms": summary(after_ack),
        "write_round_trip_ms": summary([(acked - sent) * 1000 for _, sent, acked in writes]),
        "spread_over_subscribers_ms": summary(spread),
        # The server's own CPU for the writes and their deliveries: steadier than latency on a busy machine.
        "server_cpu_ms_per_event": round(server_cpu * 1000 / max(1, len(writes)), 2),
        "server_cpu_us_per_delivery": round(server_cpu * 1e6 / max(1, delivered), 1),
    }


def main() -> None:
    if sys.argv[1:2] == ["--produce"]:
        api, key, sink_id, count, interval, timeout = json.loads(sys.argv[2])
        writes = asyncio.run(produce(httpx.URL(api), key, sink_id, count, interval, time.monotonic() + timeout))
        print(json.dumps(writes))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", default="100", help="one count, or several: 100,1000")
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--interval-ms", type=float, default=50.0)
    parser.add_argument("--timeout", type=float, default=120.0, help="bound on the whole run, seconds")
    parser.add_argument("--fsync", default="always")
    args = parser.parse_args()
    results = []
    for subscribers in (int(n) for n in args.subscribers.split(",")):
        with temporary_server("sse", f"--OpenSinkApp.fsync={args.fsync}") as server:
            results.append(asyncio.run(run(server.api, server.token, server.proc.pid, subscribers, args.events,
                                           args.interval_ms, args.timeout)))
    more = {"more_subscribers": results[1:]} if len(results) > 1 else {}
    print(json.dumps({"benchmark": "sse", "fsync": args.fsync, **results[0], **more}, indent=2))


if __name__ == "__main__":
    main()
