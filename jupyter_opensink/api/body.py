"""A request body read as it arrives, for handlers declared ``@web.stream_request_body``.

Streaming keeps tornado from buffering a whole body before the handler can
look at it: past the handler's limit nothing more is kept (the reply is 413),
and a body that trickles in slower than ``body_timeout`` allows has its
connection closed, so neither a huge body nor a slow one can hold the server.
"""

from __future__ import annotations

import asyncio
import logging


log = logging.getLogger("jupyter_opensink.api")


class StreamedBody:
    """Mixin for a tornado ``RequestHandler``; call ``start_body()`` from ``initialize``."""

    body_limit: int  # bytes kept at most
    body_timeout: float  # seconds the whole body may take

    def start_body(self) -> None:
        self._chunks: list[bytes] = []
        self._received = 0
        self._too_large = False
        self._body_deadline: asyncio.TimerHandle | None = None

    def expect_body(self) -> None:
        """Start the body's clock (from ``prepare``, for methods that carry one)."""
        self._body_deadline = asyncio.get_running_loop().call_later(self.body_timeout, self._body_too_slow)

    def data_received(self, chunk: bytes) -> None:
        if self._too_large:
            return
        self._received += len(chunk)
        if self._received > self.body_limit:
            self._too_large, self._chunks = True, []  # keep reading, keep nothing: answered 413
        else:
            self._chunks.append(chunk)

    def body_arrived(self) -> None:
        if self._body_deadline is not None:
            self._body_deadline.cancel()
            self._body_deadline = None

    def _body_too_slow(self) -> None:
        request = self.request  # type: ignore[attr-defined]
        log.warning("%s %s: body not received within %.0f s; connection closed", request.method,
                    self.logged_path, self.body_timeout)
        self.body_gave_up()
        request.connection.close()

    def body_gave_up(self) -> None:
        """Called before a too-slow body's connection is closed."""

    @property
    def logged_path(self) -> str:
        return self.request.path  # type: ignore[attr-defined]

    @property
    def body_too_large(self) -> bool:
        return self._too_large

    @property
    def body_bytes(self) -> bytes:
        return b"".join(self._chunks)
