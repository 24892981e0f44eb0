"""Slow or hostile clients against a real server process: others keep being answered, and what such
a client holds is bounded in memory and time."""

from __future__ import annotations

import resource
import socket
import time

import psutil
import pytest

from .servers import start_server

IDLE_CONNECTIONS = 1_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 4096)
    if soft < wanted:  # the server inherits it
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    base = tmp_path_factory.mktemp("hostile")
    running = start_server(base / "work", base / "db", "--OpenSinkApp.fsync=never", "--OpenSinkApp.body_timeout=2",
                           "--OpenSinkApp.event_queue_size=64")
    with running.client() as admin:
        running.key = admin.post("/api-keys", json={"name": "hostile"}).json()["key"]
        running.sink = admin.post("/sinks", json={"name": "s"}).json()["id"]
    yield running
    running.stop()


def raw_connection(server) -> socket.socket:
    port = int(server.url.split(":")[2].split("/")[0])
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def assert_answers_quickly(server, times: int = 10, limit: float = 2.0) -> None:
    with server.client(server.key) as client:
        for i in range(times):
            started = time.monotonic()
            reply = client.post("/sink-items", json={"sink_id": server.sink, "title": f"probe {i}"})
            assert reply.status_code == 201 and time.monotonic() - started < limit, reply.text


def test_a_thousand_idle_connections_do_not_stop_others(server):
    sockets = [raw_connection(server) for _ in range(IDLE_CONNECTIONS)]
    try:
        time.sleep(0.5)
        assert_answers_quickly(server)
        server_connections = len(psutil.Process(server.proc.pid).net_connections(kind="tcp"))
        assert server_connections >= IDLE_CONNECTIONS  # they really are all open on the server side
    finally:
        for sock in sockets:
            sock.close()


def test_a_body_sent_byte_by_byte_is_cut_off(server):
    sock = raw_connection(server)
    path = server.api.split(":", 2)[2].split("/", 1)[1]
    body = b'{"name": "' + b"x" * 200 + b'"}'
    sock.sendall((f"POST /{path}/sinks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.key}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode())
    started = time.monotonic()
    closed = False
    try:
        for i in range(len(body)):  # one byte every 50 ms: the whole body would take ~11 s
            sock.sendall(body[i:i + 1])
            if i % 10 == 0:
                assert_answers_quickly(server, times=1)
            time.sleep(0.05)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    if not closed:
        sock.settimeout(5)
        closed = sock.recv(1024) == b""
    elapsed = time.monotonic() - started
    sock.close()
    assert closed and elapsed < 8, elapsed  # body_timeout is 2 s
    assert "body not received within 2 s" in server.log()


def test_an_event_stream_that_is_never_read_is_dropped(server):
    """The subscriber's queue is bounded (event_queue_size=64): past it, the stream is ended."""
    sock = raw_connection(server)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    path = server.api.split(":", 2)[2].split("/", 1)[1]
    sock.sendall((f"GET /{path}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.key}\r\n"
                  "Accept: text/event-stream\r\n\r\n").encode())
    process = psutil.Process(server.proc.pid)
    before = process.memory_info().rss
    big = "y" * 4000
    with server.client(server.key) as client:
        for i in range(0, 3000, 100):  # 3,000 events of ~4 KB each, never read
            batch = [{"sink_id": server.sink, "title": f"e{i + j}", "body": big} for j in range(100)]
            assert client.post("/sink-items/many", json={"items": batch}).status_code in (200, 201)
    assert_answers_quickly(server)
    grown = process.memory_info().rss - before
    received = b""
    sock.settimeout(20)
    while b"event: reset" not in received:  # reading now: what was buffered, then the reset
        chunk = sock.recv(65536)
        assert chunk, "the stream ended without a reset"
        received += chunk
    sock.close()
    assert received.count(b"event: item.created") < 3000  # the rest was never queued for this client
    assert grown < 100 * 2**20, grown / 2**20
