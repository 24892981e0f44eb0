"""Domain errors shared by every layer.

Services and the store raise these; the HTTP layer maps each class to one
status code in a single place, so no service ever knows about HTTP.
"""


class OpenSinkError(Exception):
    """Base class: ``str(error)`` is the message shown to the caller."""

    #: Fields the error reply carries beside ``error`` (a schema mismatch's ``violations``).
    details: dict | None = None

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Invalid(OpenSinkError):
    """The input breaks a rule (a field is missing, too long, of the wrong type...)."""


class NotFound(OpenSinkError):
    """No such object, or it belongs to another workspace."""


class Conflict(OpenSinkError):
    """The object's current state forbids the change (taken name, resolved request...)."""


class PreconditionFailed(OpenSinkError):
    """A conditional write's condition (If-Match) does not hold."""


class Unavailable(OpenSinkError):
    """The server cannot take this now (it is stopping); the caller may try again later."""


class StoreError(OpenSinkError):
    """The database cannot do what was asked; never the caller's fault."""


class StoreLocked(StoreError):
    """Another process owns the database directory."""


class CorruptDatabase(StoreError):
    """A database file cannot be read; the message names the file."""


class StoreFailed(StoreError):
    """A write could not be made durable; the store refuses further writes."""


class Unauthorized(OpenSinkError):
    """No credential, or one that is unknown, revoked or expired."""


class Forbidden(OpenSinkError):
    """A valid credential that may not do this (a missing scope, a key on an admin route)."""


class Gone(OpenSinkError):
    """A capability that existed but can no longer be used; ``reason`` says why (used, revoked, expired...)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class Throttled(OpenSinkError):
    """Too many tries (or open things) from one client; it may try again after ``retry_after`` whole seconds.
    ``message`` says what the limit is, when more than the wait is worth saying."""

    def __init__(self, retry_after: float, message: str | None = None):
        super().__init__(message or f"retry after {retry_after:.0f} s")
        self.retry_after = max(int(retry_after + 0.999), 1)
