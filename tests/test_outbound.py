"""Outbound calls on their own: which addresses a callback or a job's request may reach (the URL policy),
and how a request reaches the checked address (TLS name, Host header, no retry, bounded reply)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, field

import pytest
import tornado.httpserver
import tornado.web
import trustme
from tornado.testing import bind_unused_port

from jupyter_opensink.runtime.outbound import DEFAULT_BLOCKED, MAX_REPLY_BYTES, Outbound, Outcome

LOOPBACK_BLOCKED = (*DEFAULT_BLOCKED, "127.0.0.0/8", "::1/128")

#: IPv6 spellings of blocked IPv4 addresses, each reaching that very address (or relaying to it).
METADATA_IN_DISGUISE = [
    "::ffff:169.254.169.254",  # IPv4-mapped: the kernel connects to the IPv4 address
    "::ffff:a9fe:a9fe",  # the same, in hex
    "::169.254.169.254",  # IPv4-compatible (deprecated)
    "64:ff9b::169.254.169.254",  # NAT64, well-known prefix
    "64:ff9b:1::a9fe:a9fe",  # NAT64, local-use prefix
    "2002:a9fe:a9fe::1",  # 6to4
    "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo whose client is 169.254.169.254 (obfuscated)
]
LOOPBACK_IN_DISGUISE = ["::ffff:127.0.0.1", "::ffff:7f00:1", "0.0.0.0", "::", "::ffff:0.0.0.0",
                        "64:ff9b::7f00:1", "2002:7f00:1::", "::127.0.0.1"]


@pytest.mark.parametrize("address", METADATA_IN_DISGUISE)
def test_the_default_policy_blocks_cloud_metadata_in_every_ipv6_form(address):
    assert not Outbound(timeout=1).permitted(address)


@pytest.mark.parametrize("address", LOOPBACK_IN_DISGUISE)
def test_blocked_loopback_is_blocked_in_every_form_and_through_the_unspecified_address(address):
    assert not Outbound(timeout=1, blocked=LOOPBACK_BLOCKED).permitted(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "::ffff:8.8.8.8", "2606:4700::1111", "64:ff9b::808:808",
                                     "2002:808:808::1", "127.0.0.1", "::1"])
def test_addresses_outside_the_blocked_networks_stay_permitted(address):
    assert Outbound(timeout=1).permitted(address)


def test_an_embedded_address_must_be_allowed_too():
    """With only public IPv4 allowed, a mapped private address is refused like the address itself."""
    policy = Outbound(timeout=1, allowed=["8.0.0.0/8", "::/0"], blocked=[])
    assert policy.permitted("::ffff:8.8.8.8") and policy.permitted("8.8.4.4")
    assert not policy.permitted("::ffff:10.0.0.1") and not policy.permitted("64:ff9b::a00:1")


def test_a_request_that_cannot_be_built_is_an_outcome_not_an_exception():
    """A header value stored before such values were refused fails the call with the reason."""

    async def send():
        outbound = Outbound(timeout=1)
        try:
            return await outbound.send("POST", "http://127.0.0.1:9/x", headers={"X-A": "caf\u00e9"}, body={})
        finally:
            await outbound.close()

    outcome = asyncio.run(send())
    assert not outcome.ok and outcome.status_code is None
    assert "could not be made" in outcome.error and "UnicodeEncodeError" in outcome.error


# -- the connection itself: a real receiver on loopback ------------------------------------------

#: A name no DNS knows: only the resolution the test installs maps it, to 127.0.0.1. A client that
#: looked the name up again (instead of connecting to the checked address) could not connect at all.
NAME = "receiver.opensink.test"


@pytest.fixture
def pinned_name(monkeypatch):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        return real("127.0.0.1" if host == NAME else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return NAME


@pytest.fixture
def authority(tmp_path, monkeypatch):
    """A certificate authority the outbound client trusts (the way it trusts a system's: SSL_CERT_FILE)."""
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    return ca


@dataclass
class Seen:
    server_names: list = field(default_factory=list)
    hosts: list = field(default_factory=list)


class _Echo(tornado.web.RequestHandler):
    def initialize(self, seen: Seen) -> None:
        self.seen = seen

    def post(self) -> None:
        self.seen.hosts.append(self.request.headers.get("Host"))
        self.finish("ok")


async def https_receiver(ca: trustme.CA, *names: str) -> tuple[Seen, int, tornado.httpserver.HTTPServer]:
    seen = Seen()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    context.sni_callback = lambda _socket, server_name, _context: seen.server_names.append(server_name)
    sock, port = bind_unused_port()
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/.*", _Echo, {"seen": seen})]),
                                           ssl_options=context)
    server.add_sockets([sock])
    return seen, port, server


async def send_once(url: str, method: str = "POST", **options) -> Outcome:
    outbound = Outbound(timeout=options.pop("timeout", 5), **options)
    try:
        return await outbound.send(method, url, headers={}, body=None if method == "GET" else {"a": 1})
    finally:
        await outbound.close()


def test_https_connects_to_the_checked_address_with_the_name_for_sni_certificate_and_host(pinned_name, authority):
    """The certificate names only the host name (not 127.0.0.1): it verifies only if the name is checked."""

    async def scenario():
        seen, port, server = await https_receiver(authority, pinned_name)
        try:
            return seen, port, await send_once(f"https://{pinned_name}:{port}/run")
        finally:
            server.stop()

    seen, port, outcome = asyncio.run(scenario())
    assert outcome.ok and outcome.status_code == 200, outcome
    assert seen.server_names == [pinned_name]
    assert seen.hosts == [f"{pinned_name}:{port}"]


def test_https_refuses_a_certificate_for_another_name(pinned_name, authority):
    async def scenario():
        seen, port, server = await https_receiver(authority, "someone-else.opensink.test")
        try:
            return seen, await send_once(f"https://{pinned_name}:{port}/run")
        finally:
            server.stop()

    seen, outcome = asyncio.run(scenario())
    assert outcome.status_code is None and outcome.error.startswith("could not connect: "), outcome
    assert "certificate verify failed" in outcome.error and "Hostname mismatch" in outcome.error, outcome
    assert seen.hosts == []  # the request itself was never sent


async def raw_receiver(reply: bytes | None) -> tuple[list[bytes], int, asyncio.Server]:
    """A loopback server that reads each request's head, then sends ``reply`` (or drops the connection)."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head)
                length = int(next((line.split(b":", 1)[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), b"0"))
                await reader.readexactly(length)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return heads, server.sockets[0].getsockname()[1], server


@pytest.mark.parametrize("method", ["GET", "PUT", "POST"])
def test_a_dropped_connection_fails_the_call_without_sending_it_again(method):
    async def scenario():
        heads, port, server = await raw_receiver(None)
        async with server:
            return heads, await send_once(f"http://127.0.0.1:{port}/x", method)

    heads, outcome = asyncio.run(scenario())
    assert outcome.status_code is None and outcome.error.startswith("request failed: "), outcome
    assert len(heads) == 1


def test_a_long_reply_is_read_only_up_to_the_bound_and_its_connection_is_not_reused():
    body = b"x" * (MAX_REPLY_BYTES * 40)
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    async def scenario():
        heads, port, server = await raw_receiver(reply)
        async with server:
            outbound = Outbound(timeout=5)
            try:
                first = await outbound.send("POST", f"http://127.0.0.1:{port}/x", headers={}, body={})
                second = await outbound.send("POST", f"http://127.0.0.1:{port}/x", headers={}, body={})
            finally:
                await outbound.close()
            return first, second

    first, second = asyncio.run(scenario())
    assert first.ok and second.ok, (first, second)


def test_a_closed_port_and_a_silent_receiver_are_told_apart():
    async def scenario():
        _, port, server = await raw_receiver(None)
        server.close()
        await server.wait_closed()
        refused = await send_once(f"http://127.0.0.1:{port}/x")
        silent = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
        async with silent:
            late = await send_once(f"http://127.0.0.1:{silent.sockets[0].getsockname()[1]}/x", timeout=0.3)
        return refused, late

    refused, late = asyncio.run(scenario())
    assert refused.error == "could not connect: connection refused", refused
    assert late.error == "timed out after 0.3 s", late


def test_a_cookie_one_target_sets_is_not_sent_to_the_next_call():
    """Calls to one address may be different jobs' or workspaces': none carries another's cookie."""
    reply = b"HTTP/1.1 200 OK\r\nSet-Cookie: session=secret; Path=/\r\nContent-Length: 2\r\n\r\nok"

    async def scenario():
        heads, port, server = await raw_receiver(reply)
        async with server:
            outbound = Outbound(timeout=5)
            try:
                for _ in range(2):
                    assert (await outbound.send("POST", f"http://127.0.0.1:{port}/x", headers={}, body={})).ok
            finally:
                await outbound.close()
        return heads

    heads = asyncio.run(scenario())
    assert len(heads) == 2 and not any(b"cookie:" in head.lower() for head in heads), heads
