"""A lean access log for our routes.

Jupyter's ``log_request`` (URI scrubbing, user lookup, a Prometheus histogram
per request) costs about a tenth of an item-create request. For our handlers
(those that are ``LeanAccessLog``) we log only what an operator acts on: client
errors as warnings, server errors as errors, with the handler's ``logged_path``
(never the query string). A surface whose paths hold a credential (the approval
page: ``opensink/approve/<token>``) gives a ``redact`` function: whichever
handler answers such a path (the page, or Jupyter's 404 for ``<token>/x``), it
is logged here with the credential cut short, never by Jupyter's log. Every
other handler keeps Jupyter's logging unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tornado.web import RequestHandler

log = logging.getLogger("jupyter_opensink.access")


class LeanAccessLog:
    """Mixin for a tornado ``RequestHandler`` whose requests this module logs instead of Jupyter."""

    #: Also log requests that succeeded (at INFO): for pages a person opens, rare enough to keep.
    log_successes = False

    @property
    def logged_path(self) -> str:
        """The path as logged; a handler whose path holds a credential cuts it short."""
        return self.request.path  # type: ignore[attr-defined]


#: ``redact(path, base_url)``: the path as logs may show it when it holds a credential, else None.
Redact = Callable[[str, str], "str | None"]


def _log(handler: RequestHandler, path: str) -> None:
    status = handler.get_status()
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
    log.log(level, "%d %s %s %.2fms", status, handler.request.method, path, 1000.0 * handler.request.request_time())


def wrap_log_function(default: Callable[[RequestHandler], None] | None,
                      redactors: tuple[Redact, ...] = ()) -> Callable[[RequestHandler], None]:
    def log_function(handler: RequestHandler) -> None:
        redacted = next((r for r in (redact(handler.request.path, handler.settings.get("base_url", "/"))
                                     for redact in redactors) if r is not None), None)
        if redacted is not None:
            _log(handler, redacted)
            return
        if not isinstance(handler, LeanAccessLog):
            if default is not None:
                default(handler)
            return
        if handler.get_status() < 400 and not handler.log_successes:
            return
        _log(handler, handler.logged_path)

    return log_function
