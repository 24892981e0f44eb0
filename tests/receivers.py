"""A real HTTP receiver on a free loopback port, for callbacks and job targets."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import tornado.httpserver
import tornado.web
from tornado.testing import bind_unused_port


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Receiver:
    port: int
    calls: list[Received] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    headers_out: dict[str, str] = field(default_factory=dict)

    def url(self, path: str = "/run") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} calls, got {len(self.calls)}")
            await asyncio.sleep(0.01)
        return self.calls


class _Handler(tornado.web.RequestHandler):
    def initialize(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def _record(self, *args: Any) -> None:
        r = self.receiver
        r.calls.append(Received(self.request.method or "", self.request.path,
                                {k: v for k, v in self.request.headers.get_all()}, self.request.body, time.time()))
        if r.delay:
            await asyncio.sleep(r.delay)
        self.set_status(r.status)
        for name, value in r.headers_out.items():
            self.set_header(name, value)
        self.finish("ok")

    get = post = put = delete = patch = _record


def start_receiver() -> tuple[Receiver, tornado.httpserver.HTTPServer]:
    sock, port = bind_unused_port()  # 127.0.0.1 only
    receiver = Receiver(port)
    app = tornado.web.Application([(r"/.*", _Handler, {"receiver": receiver})])
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets([sock])
    return receiver, server
