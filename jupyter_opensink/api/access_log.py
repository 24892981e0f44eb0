"""A lean access log for our routes.

Jupyter's ``log_request`` (URI scrubbing, user lookup, a Prometheus histogram
per request) costs about a tenth of an item-create request. For our handlers
we log only what an operator acts on: client errors as warnings, server
errors as errors, with the path (never the query string). The approval
page's path holds its link's token: it is logged with the token cut short.
Every other handler keeps Jupyter's logging unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tornado.web import RequestHandler

from .approval_page import ApprovalPageHandler
from .handler import OpenSinkHandler

log = logging.getLogger("jupyter_opensink.access")


def wrap_log_function(default: Callable[[RequestHandler], None] | None) -> Callable[[RequestHandler], None]:
    def log_function(handler: RequestHandler) -> None:
        if isinstance(handler, ApprovalPageHandler):
            status = handler.get_status()
            level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
            log.log(level, "%d %s %s %.2fms", status, handler.request.method, handler.logged_path,
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
