"""The approval-link page: {base_url}opensink/approve/<token>, its form code, templates and guess limiter.

It depends on the JSON API core (``api/``: the body streaming, the error mapping, the context and
the request checks); the core never imports it. ``jupyter_opensink.surfaces`` adds its handler.
"""

from .page import ApprovalPageHandler, approval_handlers, logged_path

__all__ = ["ApprovalPageHandler", "approval_handlers", "logged_path"]
