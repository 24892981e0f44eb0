"""Whole numbers in requests (headers, query parameters, a payload's pointer index) read as ASCII digits.

A superscript ("²") passes ``str.isdigit`` and then fails ``int``; 5,000 digits are over ``int``'s
limit: each such value, wherever a request carries a number, is a 4xx naming it, never a 500.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from jupyter_opensink.agent import verify
from jupyter_opensink.client.sse import SseParser
from jupyter_opensink.runtime.outbound import sign

#: Not a plain run of ASCII digits, or too many of them: what every number parser must refuse.
HOSTILE_HEADER = ["²", "1²", "¹²³", "1_0", "+7", "-1", "1e3", "0x10", "7 7", "9" * 5000]
#: The same in a query string, where any Unicode can travel (Arabic-Indic three, fullwidth one).
HOSTILE_QUERY = [*HOSTILE_HEADER, "٣", "１"]
SECRET = "a-shared-secret-of-some-length"


@pytest.fixture
def opensink_config():
    return {"fsync": "never", "max_body_size": 64 * 1024}


async def test_webhook_timestamps_and_signatures_that_are_no_numbers_are_401(api):
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    action = {"type": "create_item", "sink_id": sink["id"], "title": "/t"}
    await api("POST", "/v1/webhooks", {"path": "numbers", "secret": SECRET, "action": action})
    body = b'{"t": "x"}'
    for stamp in HOSTILE_HEADER:
        headers = {"webhook-id": "msg_1", "webhook-timestamp": stamp,
                   "webhook-signature": sign(SECRET, "msg_1", int(time.time()), body)}
        reply = await api("POST", "/opensink/hooks/numbers", raw=body, headers=headers, auth=None)
        assert reply.status == 401, (stamp[:20], reply.body)
    # a signature that is not ASCII: compared as bytes, so a plain mismatch
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time())),
               "webhook-signature": "v1,²"}
    assert (await api("POST", "/opensink/hooks/numbers", raw=body, headers=headers, auth=None)).status == 401
    assert (await api("GET", "/v1/sink-items")).body["items"] == []


async def test_a_pointer_index_that_is_no_number_finds_nothing(api):
    sink = (await api("POST", "/v1/sinks", {"name": "s"})).body
    for index in ("²", "9" * 1000):  # (a pointer is at most 1,024 characters)
        made = await api("POST", "/v1/webhooks", {"path": f"list-{len(index)}", "action": {
            "type": "create_item", "sink_id": sink["id"], "title": f"/titles/{index}"}})
        assert made.status == 201, made.body
        reply = await api("POST", f"/opensink/hooks/list-{len(index)}", {"titles": ["a", "b"]})
        assert reply.status == 400 and "/titles/" in reply.error, reply.body
    made = await api("POST", "/v1/webhooks", {"path": "list-ok", "action": {
        "type": "create_item", "sink_id": sink["id"], "title": "/titles/1"}})
    assert (await api("POST", "/opensink/hooks/list-ok", {"titles": ["a", "b"]})).body["item"]["title"] == "b"


async def test_if_match_that_is_no_version_is_400(api):
    assert (await api("PUT", "/v1/states/ns/k", {"value": 1})).status == 201
    for value in HOSTILE_HEADER:
        for method, body in (("PUT", {"value": 2}), ("DELETE", None)):
            reply = await api(method, "/v1/states/ns/k", body, headers={"If-Match": value})
            assert reply.status == 400 and "If-Match" in reply.error, (method, value[:20], reply.body)
    assert (await api("PUT", "/v1/states/ns/k", {"value": 2}, headers={"If-Match": '"1"'})).status == 200


async def test_request_log_status_and_limit_that_are_no_numbers_are_400(api):
    for value in HOSTILE_QUERY:
        reply = await api("GET", "/v1/request-logs", params={"status": value})
        assert reply.status == 400 and "status" in reply.error, (value[:20], reply.body)
        reply = await api("GET", "/v1/sinks", params={"$limit": value})
        assert reply.status == 400 and "$limit" in reply.error, (value[:20], reply.body)
    assert (await api("GET", "/v1/request-logs", params={"status": "200"})).status == 200


async def test_a_last_event_id_that_is_no_number_gets_a_reset(opensink_app, jp_base_url, http_server_port,
                                                             http_server, jp_serverapp):
    boot = opensink_app.events.boot
    url = f"http://127.0.0.1:{http_server_port[1]}{jp_base_url}opensink/api/v1/events"
    auth = {"Authorization": f"token {jp_serverapp.identity_provider.token}"}
    async with httpx.AsyncClient(timeout=10) as client:
        for value in HOSTILE_HEADER:
            for how in ("header", "query"):
                resume = f"{boot}:{value}"
                sent = dict(auth, **({"Last-Event-ID": resume.encode("latin-1")} if how == "header" else {}))
                params = {"last_event_id": resume} if how == "query" else {}
                async with client.stream("GET", url, headers=sent, params=params) as response:
                    assert response.status_code == 200, (how, value[:20])
                    parser, first = SseParser(), None

                    async def read_first():
                        async for line in response.aiter_lines():
                            event = parser.feed(line)
                            if event is not None:
                                return event

                    first = await asyncio.wait_for(read_first(), 5)
                    assert first.type == "reset", (how, value[:20], first)


async def raw_status(port: int, request: bytes) -> int:
    """The status line's code for a request written byte for byte (a client library would fix its headers);
    0 when no reply came within 5 s, -1 when the connection was closed without one."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        writer.write(request)
        await writer.drain()
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
        except asyncio.TimeoutError:
            return 0
        return int(line.split()[1]) if line else -1
    finally:
        writer.close()


async def test_a_content_length_that_is_no_number_is_refused(jp_base_url, http_server_port, http_server,
                                                             jp_serverapp, opensink_app):
    token = jp_serverapp.identity_provider.token
    for length in ("²".encode("latin-1"), b"9" * 5000, b"1_0"):
        for path in ("opensink/api/v1/sinks", "opensink/approve/not-a-token"):
            request = (f"POST {jp_base_url}{path} HTTP/1.1\r\nHost: 127.0.0.1:{http_server_port[1]}\r\n"
                       f"Authorization: token {token}\r\nContent-Type: application/json\r\n").encode()
            request += b"Content-Length: " + length + b"\r\n\r\n{}"
            status = await raw_status(http_server_port[1], request)
            expected = 413 if length.isdigit() else 400
            assert status == expected, (path, length[:20], status)
    for _ in range(100):  # tornado gave up on those bodies: nothing is left for a stop to wait for (it waited
        if not opensink_app.api_context.in_flight:  # shutdown_timeout, 10 s, for each)
            break
        await asyncio.sleep(0.02)
    assert not opensink_app.api_context.in_flight


def test_the_agent_receiver_refuses_what_is_no_number_or_ascii():
    secret = "whsec_" + "QUJD" * 8
    body = b"{}"
    now = int(time.time())
    good = {"X-OpenSink-Secret": secret, "webhook-id": "m", "webhook-timestamp": str(now),
            "webhook-signature": sign(secret, "m", now, body)}
    assert verify(secret, good, body)
    for stamp in HOSTILE_HEADER:
        assert not verify(secret, {**good, "webhook-timestamp": stamp}, body)
    assert not verify(secret, {**good, "X-OpenSink-Secret": "²"}, body)
