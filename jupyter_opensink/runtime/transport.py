"""An httpx transport that sends through one aiohttp session.

httpx stays the interface of outbound calls (``Outbound``); this carries its requests. httpcore,
httpx's own transport, rescans its whole pool for every request it assigns; aiohttp's pool is keyed
by address, port, TLS settings and TLS server name (a connection is never reused for another name).
A whole ``Outbound.send`` (signature and socket write included) took about half the CPU with this
transport and the client's cookie jar left out (docs/developers/benchmarks.md, "Where the time goes").

What the URL policy relies on is kept: the request goes to the URL's host as given (the checked
address: aiohttp resolves nothing for an IP address), the ``Host`` header is sent as httpx built
it, the ``sni_hostname`` extension becomes the TLS server name that the certificate is checked
against, redirects are never followed and nothing is retried. Failures are raised as the httpx
exceptions they correspond to, so callers tell timeouts from refused connections as before.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
from yarl import URL


def _as_httpx(exc: Exception, request: httpx.Request, *, reading: bool = False) -> httpx.TransportError:
    """The httpx exception for an aiohttp failure (chained to it, which keeps the OS reason)."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, TimeoutError):  # aiohttp's read timeouts are TimeoutErrors too
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, unreachable, TLS handshake or certificate
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(message, request=request)
    if reading or isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError(message, request=request)
    return httpx.NetworkError(message, request=request)


class _Reply(httpx.AsyncByteStream):
    """The reply's body as it arrives; closing it early drops the connection instead of reusing it."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request):
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _as_httpx(exc, self._request, reading=True) from exc

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()  # read to its end: the connection goes back to the pool
        else:
            self._response.close()  # unread bytes would be taken for the next reply


class _Forgetful(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class OutboundClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that keeps no cookies.

    A target's ``Set-Cookie`` is not sent back with the next call to that address, which may be
    another job's or another workspace's; and no cookie jar is consulted per request.
    """

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, value: object) -> None:
        pass


_NO_COOKIES = _Forgetful()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 through one ``aiohttp.ClientSession``, opened on first use (on the running loop)."""

    def __init__(self, *, max_connections: int, keepalive_seconds: float, ssl_context: ssl.SSLContext):
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl_context,
                                         keepalive_timeout=self._keepalive_seconds)
        # No cookies kept between targets, no proxy from the environment (httpx mounts its own for
        # those), bodies passed on as received.
        session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                        auto_decompress=False, trust_env=False)
        # aiohttp sends an idempotent request (GET, PUT, DELETE) a second time when the connection
        # drops before the reply; outbound calls are made once, whatever their method.
        session._retry_connection = False
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open()
        timeout = request.extensions.get("timeout") or {}
        content = request.content
        try:
            response = await self._session.request(
                request.method, URL(str(request.url), encoded=True), headers=request.headers.multi_items(),
                data=content or None, allow_redirects=False, auto_decompress=False,
                server_hostname=request.extensions.get("sni_hostname"),
                timeout=aiohttp.ClientTimeout(total=None, connect=timeout.get("pool"),
                                              sock_connect=timeout.get("connect"), sock_read=timeout.get("read")))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _as_httpx(exc, request) from exc
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        return httpx.Response(response.status, headers=response.raw_headers, stream=_Reply(response, request),
                              request=request, extensions=extensions)

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
