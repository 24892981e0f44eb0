"""The Python client: ``Client`` (sync) and ``AsyncClient`` over httpx.

With no arguments it connects to the server that launched the kernel
(``OPENSINK_URL``, ``OPENSINK_API_KEY``, set by the extension); elsewhere
give ``url`` (the OpenSink root, e.g. ``http://127.0.0.1:8888/opensink``)
and ``api_key``, or set the same variables. It only speaks HTTP.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any, TypeVar

import httpx

from .asking import (Answer, CellDisplay, Rejected, answered_display, default_agent_name, in_a_kernel, question,
                     requires_approval, waiting_display)
from .calls import ApiCall, Async, Sync
from .errors import (BadRequest, Conflict, Forbidden, InputRequestExpired, MethodNotAllowed, NotFound,
                     OpenSinkError, PayloadTooLarge, PreconditionFailed, ServerError, Unauthorized, error_for)
from .reconnect import DROPPED, Reconnect
from .resources import Namespaces
from .sse import Event, SseParser
from .types import InputRequest, Page

__all__ = ["Answer", "AsyncClient", "BadRequest", "Client", "Conflict", "Event", "Forbidden", "InputRequestExpired",
           "MethodNotAllowed", "NotFound", "OpenSinkError", "PayloadTooLarge", "PreconditionFailed", "Rejected",
           "ServerError", "Unauthorized", "requires_approval"]

RESOLUTION_EVENTS = "input_request.resolved,input_request.expired"

ReplyT = TypeVar("ReplyT")

#: How a stream's lines stop coming: it ended, or it dropped. Either way it is reopened.
ENDED_OR_DROPPED: tuple[type[Exception], ...] = (StopIteration, *DROPPED)
ASYNC_ENDED_OR_DROPPED: tuple[type[Exception], ...] = (StopAsyncIteration, *DROPPED)


def _settings(url: str | None, api_key: str | None) -> tuple[str, str]:
    url = url or os.environ.get("OPENSINK_URL")
    api_key = api_key or os.environ.get("OPENSINK_API_KEY")
    if not url or not api_key:
        raise ValueError("give url and api_key, or set OPENSINK_URL and OPENSINK_API_KEY "
                         "(a kernel started by a Jupyter server with jupyter_opensink has both)")
    return url.rstrip("/") + "/api/v1", api_key


def _result(response: httpx.Response) -> Any:
    body = response.json() if response.content else None
    if response.status_code >= 400:
        raise error_for(response.status_code, body)
    return body


def _stream_request(types: str | list[str] | None, last_event_id: str | None,
                    read_timeout: float | None) -> dict[str, Any]:
    names = types if isinstance(types, str) or types is None else ",".join(types)
    return {"params": {"types": names} if names else {},
            "headers": {"Last-Event-ID": last_event_id} if last_event_id else {},
            "timeout": httpx.Timeout(30.0, read=read_timeout)}


class EventStream:
    """A subscription to ``/events`` (sync). Iterate it; ``close()`` it (or use ``with``)."""

    def __init__(self, http: httpx.Client, types: Any, last_event_id: str | None, read_timeout: float | None):
        self._http, self._types, self._read_timeout = http, types, read_timeout
        self.last_event_id = last_event_id
        self._context: Any = None
        self._reconnect = Reconnect()
        self._open()

    def _open(self) -> None:
        context = self._http.stream("GET", "/events", **_stream_request(self._types, self.last_event_id,
                                                                         self._read_timeout))
        response = context.__enter__()
        self._context = context
        if response.status_code >= 400:
            response.read()
            self.close()
            _result(response)
        self._lines = response.iter_lines()
        self._parser = SseParser()

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> Event:
        while True:
            try:
                line = next(self._lines)
            except ENDED_OR_DROPPED:
                self.close()
                self._reopen()
                continue
            event = self._parser.feed(line)
            if event is not None:
                self.last_event_id = event.id or self.last_event_id
                self._reconnect.succeeded()
                return event

    def _reopen(self) -> None:
        """Dropped or ended: connect again, pausing as the reconnect policy says; resume from the last id."""
        while True:
            self._reconnect.sleep()
            try:
                self._open()
                return
            except DROPPED:
                continue

    def close(self) -> None:
        if self._context is not None:
            context, self._context = self._context, None
            context.__exit__(None, None, None)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncEventStream:
    """A subscription to ``/events`` (async). ``await open()``, then ``async for``; ``await aclose()``."""

    def __init__(self, http: httpx.AsyncClient, types: Any, last_event_id: str | None,
                 read_timeout: float | None):
        self._http, self._types, self._read_timeout = http, types, read_timeout
        self.last_event_id = last_event_id
        self._context: Any = None
        self._reconnect = Reconnect()

    async def open(self) -> AsyncEventStream:
        if self._context is None:
            context = self._http.stream("GET", "/events", **_stream_request(
                self._types, self.last_event_id, self._read_timeout))
            response = await context.__aenter__()
            self._context = context
            if response.status_code >= 400:
                await response.aread()
                await self.aclose()
                _result(response)
            self._lines = response.aiter_lines()
            self._parser = SseParser()
        return self

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> Event:
        await self.open()
        while True:
            try:
                line = await self._lines.__anext__()
            except ASYNC_ENDED_OR_DROPPED:
                await self.aclose()
                await self._reopen()
                continue
            event = self._parser.feed(line)
            if event is not None:
                self.last_event_id = event.id or self.last_event_id
                self._reconnect.succeeded()
                return event

    async def _reopen(self) -> None:
        """Dropped or ended: connect again, pausing as the reconnect policy says; resume from the last id."""
        while True:
            await self._reconnect.asleep()
            try:
                await self.open()
                return
            except DROPPED:
                continue

    async def aclose(self) -> None:
        if self._context is not None:
            context, self._context = self._context, None
            await context.__aexit__(None, None, None)


#: The session ``ask`` made per (server, agent name) in this process, reused while it is not over.
_ASKING_SESSIONS: dict[tuple[str, str], str] = {}
_OVER = ("completed", "failed")


def _no_answer(request: dict[str, Any], timeout: float | None) -> TimeoutError:
    return TimeoutError(f"no answer to {request['title']!r} within {timeout} s; the request ({request['id']}) "
                        "stays open: it can still be answered, and wait_for_resolution(request_id) waits again")


def _concerns(event: Event, request_id: str) -> bool:
    return event.type == "reset" or (isinstance(event.data, dict) and event.data.get("id") == request_id)


def _finished(request: InputRequest) -> InputRequest | None:
    if request["status"] == "resolved":
        return request
    if request["status"] == "expired":
        raise InputRequestExpired(409, f"input request {request['id']} expired without an answer", request)
    return None


class Client(Namespaces[Sync]):
    """Blocking client; one attribute per resource (``sinks``, ``sink_items``, ...)."""

    def __init__(self, url: str | None = None, api_key: str | None = None, *, timeout: float = 30.0,
                 headers: dict[str, str] | None = None):
        self.base_url, api_key = _settings(url, api_key)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout,
                                  headers={"Authorization": f"Bearer {api_key}", **(headers or {})})
        super().__init__()

    def _send(self, call: ApiCall[ReplyT]) -> ReplyT:
        reply: ReplyT = _result(self._http.request(call.method, call.path, json=call.json, params=call.params,
                                                   headers=call.headers))
        return reply

    def _iterate(self, call: ApiCall[Page[ReplyT]]) -> Iterator[ReplyT]:
        params = dict(call.params or {})
        while True:
            page = self._send(replace(call, params=dict(params)))
            yield from page["items"]
            if not page["trail"]:
                return
            params["$trail"] = page["trail"]

    def events(self, types: str | list[str] | None = None, *, last_event_id: str | None = None,
               read_timeout: float | None = None) -> EventStream:
        """The live event stream, subscribed as this returns; iterate it for ``Event`` objects.

        It reconnects after a drop and resumes from the last id seen. A
        ``reset`` event means events were missed: re-list what you show.
        """
        return EventStream(self._http, types, last_event_id, read_timeout)

    def wait_for_resolution(self, request_id: str, timeout: float | None = None) -> InputRequest:
        """Block until the input request is resolved and return it (no polling: the event stream wakes us).

        A dropped stream is reopened as the reconnect policy says (the server may restart meanwhile).
        Raises ``InputRequestExpired`` if it expires, ``TimeoutError`` after ``timeout`` seconds.
        """
        reconnect = Reconnect(timeout)
        while True:
            remaining = reconnect.remaining()
            wait = None if remaining is None else max(0.01, remaining)
            try:
                with self._http.stream("GET", "/events", params={"types": RESOLUTION_EVENTS},
                                       timeout=httpx.Timeout(30.0 if wait is None else min(30.0, wait),
                                                             read=wait)) as resp:
                    reconnect.opened()
                    if resp.status_code >= 400:
                        resp.read()
                        _result(resp)
                    # The stream is open (the server subscribes before replying): now look.
                    done = _finished(self.input_requests.get(request_id))
                    if done:
                        return done
                    reconnect.succeeded()
                    parser = SseParser()
                    for line in resp.iter_lines():
                        event = parser.feed(line)
                        if event is not None and _concerns(event, request_id):
                            done = _finished(self.input_requests.get(request_id))
                            if done:
                                return done
                        if reconnect.expired():
                            break
            except httpx.ReadTimeout:
                pass
            except DROPPED:
                if not reconnect.connected:
                    raise
            if reconnect.expired():
                raise TimeoutError(f"input request {request_id} was not answered within {timeout} s")
            reconnect.sleep()  # dropped or ended: reopen and look again

    def ask(self, title: str, schema: dict[str, Any] | None = None, *, message: str = "",
            defaults: dict[str, Any] | None = None, context: Any = None, decisions: list[str] | None = None,
            session_id: str | None = None, agent: str | None = None, timeout: float | None = None) -> Answer:
        """Ask a person and wait for the answer (no polling). Without ``schema``, an approve/reject question.

        ``defaults`` is your proposal (the form opens with it), ``context`` evidence shown beside the
        question (any object IPython can display, or a list of them), ``decisions`` the answers offered.
        The session is ``session_id``, else ``OPENSINK_SESSION_ID``, else one made once per process for the
        agent named ``agent`` (made when missing). In a notebook the question shows in the cell's output.
        ``TimeoutError`` after ``timeout`` seconds leaves the request open, answerable later.
        """
        body = question(title, schema, message, defaults, context, decisions)
        session = self._asking_session(session_id, agent)
        request = self.input_requests.create(session_id=session["id"], agent_id=session["agent_id"], **body)
        return self.await_answer(request, timeout)

    def await_answer(self, request: InputRequest, timeout: float | None = None) -> Answer:
        """Wait for the answer to ``request`` (as ``ask`` does once it has asked), showing it in the cell."""
        shown = CellDisplay() if in_a_kernel() else None
        if shown is not None:
            shown.show(waiting_display(request, self._link_for(request["id"])))
        try:
            done = self.wait_for_resolution(request["id"], timeout)
        except TimeoutError:
            raise _no_answer(request, timeout) from None
        if shown is not None:
            shown.update(answered_display(done))
        return Answer.of(done)

    def _asking_session(self, session_id: str | None, agent: str | None) -> dict[str, Any]:
        known = session_id or os.environ.get("OPENSINK_SESSION_ID")
        if known:
            return self.agent_sessions.get(known)
        name = agent or default_agent_name()
        made = _ASKING_SESSIONS.get((self.base_url, name))
        if made:
            try:
                session = self.agent_sessions.get(made)
                if session["status"] not in _OVER:
                    return session
            except NotFound:
                pass
        found = next((a for a in self.agents.iter() if a["name"] == name), None) or self.agents.create(name=name)
        session = self.agent_sessions.create(agent_id=found["id"])
        _ASKING_SESSIONS[(self.base_url, name)] = session["id"]
        return session

    def _link_for(self, request_id: str) -> str | None:
        """An approval link for the question shown in a cell (None when this key may not make one)."""
        try:
            return self.input_requests.create_link(request_id)["url"]
        except OpenSinkError:
            return None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncClient(Namespaces[Async]):
    """The same API with coroutines and async iterators."""

    def __init__(self, url: str | None = None, api_key: str | None = None, *, timeout: float = 30.0,
                 headers: dict[str, str] | None = None):
        self.base_url, api_key = _settings(url, api_key)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                       headers={"Authorization": f"Bearer {api_key}", **(headers or {})})
        super().__init__()

    async def _send(self, call: ApiCall[ReplyT]) -> ReplyT:
        reply: ReplyT = _result(await self._http.request(call.method, call.path, json=call.json,
                                                         params=call.params, headers=call.headers))
        return reply

    async def _iterate(self, call: ApiCall[Page[ReplyT]]) -> AsyncIterator[ReplyT]:
        params = dict(call.params or {})
        while True:
            page = await self._send(replace(call, params=dict(params)))
            for item in page["items"]:
                yield item
            if not page["trail"]:
                return
            params["$trail"] = page["trail"]

    def events(self, types: str | list[str] | None = None, *, last_event_id: str | None = None,
               read_timeout: float | None = None) -> AsyncEventStream:
        """The live event stream (``await stream.open()`` to subscribe before iterating, else the first
        ``async for`` does)."""
        return AsyncEventStream(self._http, types, last_event_id, read_timeout)

    async def wait_for_resolution(self, request_id: str, timeout: float | None = None) -> InputRequest:
        """Wait until the input request is resolved and return it (no polling: the event stream wakes us).

        A dropped stream is reopened as the reconnect policy says (the server may restart meanwhile).
        Raises ``InputRequestExpired`` if it expires, ``TimeoutError`` after ``timeout`` seconds.
        """
        reconnect = Reconnect(timeout)

        async def wait() -> InputRequest:
            while True:
                try:
                    async with self._http.stream("GET", "/events", params={"types": RESOLUTION_EVENTS},
                                                 timeout=httpx.Timeout(30.0, read=None)) as resp:
                        reconnect.opened()
                        if resp.status_code >= 400:
                            await resp.aread()
                            _result(resp)
                        done = _finished(await self.input_requests.get(request_id))
                        if done:
                            return done
                        reconnect.succeeded()
                        parser = SseParser()
                        async for line in resp.aiter_lines():
                            event = parser.feed(line)
                            if event is not None and _concerns(event, request_id):
                                done = _finished(await self.input_requests.get(request_id))
                                if done:
                                    return done
                except DROPPED:
                    if not reconnect.connected:
                        raise
                await reconnect.asleep()  # dropped or ended: reopen and look again

        try:
            return await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"input request {request_id} was not answered within {timeout} s") from None

    async def ask(self, title: str, schema: dict[str, Any] | None = None, *, message: str = "",
                  defaults: dict[str, Any] | None = None, context: Any = None, decisions: list[str] | None = None,
                  session_id: str | None = None, agent: str | None = None, timeout: float | None = None) -> Answer:
        """``Client.ask`` as a coroutine: ask a person and wait for the ``Answer`` (no polling)."""
        body = question(title, schema, message, defaults, context, decisions)
        session = await self._asking_session(session_id, agent)
        request = await self.input_requests.create(session_id=session["id"], agent_id=session["agent_id"], **body)
        return await self.await_answer(request, timeout)

    async def await_answer(self, request: InputRequest, timeout: float | None = None) -> Answer:
        """Wait for the answer to ``request`` (as ``ask`` does once it has asked), showing it in the cell."""
        shown = CellDisplay() if in_a_kernel() else None
        if shown is not None:
            shown.show(waiting_display(request, await self._link_for(request["id"])))
        try:
            done = await self.wait_for_resolution(request["id"], timeout)
        except TimeoutError:
            raise _no_answer(request, timeout) from None
        if shown is not None:
            shown.update(answered_display(done))
        return Answer.of(done)

    async def _asking_session(self, session_id: str | None, agent: str | None) -> dict[str, Any]:
        known = session_id or os.environ.get("OPENSINK_SESSION_ID")
        if known:
            return await self.agent_sessions.get(known)
        name = agent or default_agent_name()
        made = _ASKING_SESSIONS.get((self.base_url, name))
        if made:
            try:
                session = await self.agent_sessions.get(made)
                if session["status"] not in _OVER:
                    return session
            except NotFound:
                pass
        found = None
        async for candidate in self.agents.iter():
            if candidate["name"] == name:
                found = candidate
                break
        found = found or await self.agents.create(name=name)
        session = await self.agent_sessions.create(agent_id=found["id"])
        _ASKING_SESSIONS[(self.base_url, name)] = session["id"]
        return session

    async def _link_for(self, request_id: str) -> str | None:
        try:
            return (await self.input_requests.create_link(request_id))["url"]
        except OpenSinkError:
            return None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
