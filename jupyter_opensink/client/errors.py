"""Errors the client raises: one class per status family, each with the server's message."""

from __future__ import annotations

from typing import Any


class OpenSinkError(Exception):
    """A request the server refused or could not serve."""

    def __init__(self, status_code: int, message: str, body: Any = None):
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.body = body


class BadRequest(OpenSinkError):
    pass


class Unauthorized(OpenSinkError):
    pass


class Forbidden(OpenSinkError):
    pass


class NotFound(OpenSinkError):
    pass


class MethodNotAllowed(OpenSinkError):
    pass


class Conflict(OpenSinkError):
    pass


class PreconditionFailed(OpenSinkError):
    """A conditional write (``if_match``, ``only_new``) found another version."""


class PayloadTooLarge(OpenSinkError):
    pass


class ServerError(OpenSinkError):
    pass


class InputRequestExpired(OpenSinkError):
    """``wait_for_resolution``: the request expired without an answer."""


BY_STATUS = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
             409: Conflict, 412: PreconditionFailed, 413: PayloadTooLarge}


def error_for(status_code: int, body: Any) -> OpenSinkError:
    message = body.get("error") if isinstance(body, dict) else None
    cls = BY_STATUS.get(status_code, ServerError if status_code >= 500 else OpenSinkError)
    return cls(status_code, message or str(body or "error"), body)
