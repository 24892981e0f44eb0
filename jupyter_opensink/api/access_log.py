"""A lean access log for our routes.

Jupyter's ``log_request`` (URI scrubbing, user lookup, a Prometheus histogram
per request) costs about a tenth of an item-create request. For our handlers
we log only what an operator acts on: client errors as warnings, server
errors as errors, with the path (never the query string). A path below the
approval page's (``opensink/approve/...``) holds a link's token: whichever
handler answers it (the page, or Jupyter's 404 for ``<token>/x``), it is logged
here with the token cut short, never by Jupyter's log. Every other handler
keeps Jupyter's logging unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tornado.web import RequestHandler

from .approval_page import logged_path
from .handler import OpenSinkHandler

log = logging.getLogger("jupyter_opensink.access")


def wrap_log_function(default: Callable[[RequestHandler], None] | None) -> Callable[[RequestHandler], None]:
    def log_function(handler: RequestHandler) -> None:
        redacted = logged_path(handler.request.path, handler.settings.get("base_url", "/"))
        if redacted is not None:
            status = handler.get_status()
            level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
            log.log(level, "%d %s %s %.2fms", status, handler.request.method, redacted,
                    1000.0 * handler.request.request_time())
            return
        if not isinstance(handler, OpenSinkHandler):
            if default is not None:
                default(handler)
            return
        status = handler.get_status()
        if status < 400:
            return
        request = handler.request
        level = logging.ERROR if status >= 500 else logging.WARNING
        log.log(level, "%d %s %s %.2fms", status, request.method, request.path, 1000.0 * request.request_time())

    return log_function
