"""Every surface of the server put together: the JSON API core, the MCP endpoint and the approval page.

``api/`` is the core; ``mcp/`` and ``approval/`` build on it and the core imports neither. This is
the one module that knows all three, so the extension app (and tests walking the whole route table)
get them from here.
"""

from __future__ import annotations

from . import api, mcp
from .api import ApiContext, Route, build_handlers
from .api.access_log import Redact
from .approval import approval_handlers, logged_path
from .mcp import OnDemandEndpoint


def routes(mcp_endpoint: OnDemandEndpoint | None) -> list[Route]:
    """The route table: the JSON API's routes and the MCP endpoint's (404 when it is switched off)."""
    return [*api.ROUTES, *mcp.routes(mcp_endpoint)]


#: Paths that hold a credential, cut short in the access log whichever handler answers them.
REDACTORS: tuple[Redact, ...] = (logged_path,)

#: The whole table as served and described (tests walk it); the MCP routes here answer nothing.
ROUTES: list[Route] = routes(None)


def handlers(context: ApiContext, *, link_guesses_per_minute: int) -> list[tuple]:
    """Every tornado handler spec (without base_url: the extension app prepends it)."""
    return build_handlers(context) + approval_handlers(context, link_guesses_per_minute)
