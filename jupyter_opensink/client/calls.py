"""How a namespace method becomes an HTTP request, written once for both clients.

A namespace method (``client.sinks.get``) only describes its request as an
``ApiCall``, whose type parameter is the reply's shape (a TypedDict of
``client/types.py``). The ``endpoint`` and ``every_page`` decorators hand that
description to the namespace's client: ``Client`` sends it and returns the
reply, ``AsyncClient`` returns an awaitable (or an async iterator) of it.

Their ``__get__`` overloads tell a type checker which, from the namespace's
mode (``Sync`` or ``Async``, its first type parameter), so one declaration
serves both clients and is still typed precisely for each:
``Client().input_requests.get(id)`` is an ``InputRequest``,
``AsyncClient().input_requests.get(id)`` an ``Awaitable[InputRequest]``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast, overload

from .types import Page

P = ParamSpec("P")
ReplyT = TypeVar("ReplyT", covariant=True)
ItemT = TypeVar("ItemT")


class Sync:
    """Mode of the namespaces of ``Client``: a method returns the reply."""


class Async:
    """Mode of the namespaces of ``AsyncClient``: a method returns an awaitable of the reply."""


ModeT = TypeVar("ModeT", Sync, Async)


@dataclass(frozen=True)
class ApiCall(Generic[ReplyT]):
    """One request below the API root; ``ReplyT`` is the shape of its reply."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


class Namespace(Generic[ModeT]):
    """A group of endpoints below ``path``, sent through ``client`` (its ``_send`` and ``_iterate``)."""

    def __init__(self, client: Any, path: str):
        self._client = client
        self.path = path


class _Decorator:
    """What both decorators share: the wrapped method's name, docstring and (for ``help()``) signature."""

    def __init__(self, describe: Callable[..., Any]):
        self._describe = describe
        functools.update_wrapper(cast(Callable[..., Any], self), describe)

    @functools.cached_property
    def _signature(self) -> inspect.Signature:
        """The method's parameters without ``self``; what it returns depends on the client."""
        signature = inspect.signature(self._describe)
        return signature.replace(parameters=list(signature.parameters.values())[1:],
                                 return_annotation=inspect.Signature.empty)

    def _bind(self, namespace: Any, owner: type, run: Callable[[Any], Any]) -> Callable[..., Any]:
        describe = self._describe.__get__(namespace, owner)

        def call(*args: Any, **kwargs: Any) -> Any:
            return run(describe(*args, **kwargs))

        functools.update_wrapper(call, self._describe)
        # What help() shows, rather than the signature of __wrapped__ (with self, returning an ApiCall).
        call.__signature__ = self._signature  # type: ignore[attr-defined]
        return call


class endpoint(_Decorator, Generic[P, ReplyT]):  # noqa: N801 (a decorator, named like one)
    """Decorates a method that returns an ``ApiCall``: calling it sends the call through the client."""

    def __init__(self, describe: Callable[Concatenate[Any, P], ApiCall[ReplyT]]):
        super().__init__(describe)

    @overload
    def __get__(self, namespace: None, owner: type) -> endpoint[P, ReplyT]: ...
    @overload
    def __get__(self, namespace: Namespace[Sync], owner: type) -> Callable[P, ReplyT]: ...
    @overload
    def __get__(self, namespace: Namespace[Async], owner: type) -> Callable[P, Awaitable[ReplyT]]: ...

    def __get__(self, namespace: Any, owner: type) -> Any:
        return self if namespace is None else self._bind(namespace, owner, namespace._client._send)


class every_page(_Decorator, Generic[P, ItemT]):  # noqa: N801 (a decorator, named like one)
    """Decorates a method that returns the ``ApiCall`` of a listing: calling it iterates every page lazily."""

    def __init__(self, describe: Callable[Concatenate[Any, P], ApiCall[Page[ItemT]]]):
        super().__init__(describe)

    @overload
    def __get__(self, namespace: None, owner: type) -> every_page[P, ItemT]: ...
    @overload
    def __get__(self, namespace: Namespace[Sync], owner: type) -> Callable[P, Iterator[ItemT]]: ...
    @overload
    def __get__(self, namespace: Namespace[Async], owner: type) -> Callable[P, AsyncIterator[ItemT]]: ...

    def __get__(self, namespace: Any, owner: type) -> Any:
        return self if namespace is None else self._bind(namespace, owner, namespace._client._iterate)
