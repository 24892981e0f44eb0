"""A lean access log for our routes.

Jupyter's ``log_request`` (URI scrubbing, user lookup, a Prometheus histogram
per request) costs about a tenth of an item-create request. For our handlers
(those that are ``LeanAccessLog``) we log only what an operator acts on: client
errors as warnings, server errors as errors, with the handler's ``logged_path``
(never the query string; the approval page's path holds its link's token, so
it logs the token cut short). Every other handler keeps Jupyter's logging.
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


def wrap_log_function(default: Callable[[RequestHandler], None] | None) -> Callable[[RequestHandler], None]:
    def log_function(handler: RequestHandler) -> None:
        if not isinstance(handler, LeanAccessLog):
            if default is not None:
                default(handler)
            return
        status = handler.get_status()
        if status < 400 and not handler.log_successes:
            return
        level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
        log.log(level, "%d %s %s %.2fms", status, handler.request.method, handler.logged_path,
                1000.0 * handler.request.request_time())

    return log_function
