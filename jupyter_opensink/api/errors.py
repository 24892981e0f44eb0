"""The one place where domain errors become HTTP statuses."""

from __future__ import annotations

from tornado.web import HTTPError

from ..errors import (Conflict, CorruptDatabase, Forbidden, Gone, Invalid, NotFound, OpenSinkError,
                      PreconditionFailed, StoreError, StoreFailed, StoreLocked, Throttled, Unauthorized, Unavailable)

STATUS: dict[type[OpenSinkError], int] = {
    Invalid: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    PreconditionFailed: 412,
    Throttled: 429,
    Unavailable: 503,
    StoreFailed: 503,
    StoreLocked: 503,
    CorruptDatabase: 503,
    StoreError: 503,
}

PHRASES = {
    400: "bad request", 401: "authentication required", 403: "forbidden", 404: "not found",
    405: "method not allowed", 409: "conflict", 410: "gone", 412: "precondition failed",
    413: "request body too large",
    500: "internal server error",
    503: "the database is unavailable",
}


def status_for(exc: BaseException | None, default: int) -> int:
    if isinstance(exc, OpenSinkError):
        for cls in type(exc).__mro__:
            if cls in STATUS:
                return STATUS[cls]
        return 500
    if isinstance(exc, HTTPError):
        return exc.status_code
    return default


def message_for(exc: BaseException | None, status: int) -> str:
    """What the caller sees: domain messages and our own HTTP errors; never internals."""
    if isinstance(exc, OpenSinkError) and not isinstance(exc, StoreError):
        return exc.message
    if isinstance(exc, HTTPError) and exc.log_message and status < 500:
        return exc.log_message % exc.args if exc.args else exc.log_message
    return PHRASES.get(status, "error")


def body_for(exc: BaseException | None, status: int) -> dict:
    """The error reply: ``{"error": ...}``, plus the details a domain error carries for the caller."""
    body = {"error": message_for(exc, status)}
    if isinstance(exc, OpenSinkError) and exc.details and not isinstance(exc, StoreError):
        body.update(exc.details)
    return body


def is_expected(exc: BaseException | None) -> bool:
    """Errors that are the caller's doing: no traceback in the log."""
    return isinstance(exc, OpenSinkError) and not isinstance(exc, StoreError)
