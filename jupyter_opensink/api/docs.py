"""GET {base_url}opensink/docs: the OpenAPI description rendered for people.

The viewer (Swagger UI) is copied into the package at build time, so the page
loads nothing from the internet. Only the signed-in Jupyter user sees it.
"""

from __future__ import annotations

import html
from pathlib import Path

from jupyter_server.base.handlers import AuthenticatedFileHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

STATIC = Path(__file__).resolve().parents[1] / "static"
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>OpenSink API · jupyter_opensink</title>
<link rel="stylesheet" href="{static}/viewer/swagger-ui.css">
</head>
<body>
<div id="opensink-docs" data-spec="{spec}"></div>
<script src="{static}/viewer/swagger-ui-bundle.js"></script>
<script src="{static}/docs.js"></script>
</body>
</html>
"""
MISSING = ("The API docs viewer is not built. Reinstall the package with Node.js available "
           "(pip install -e .); the description itself is at {spec}")


class DocsPageHandler(JupyterHandler):
    @web.authenticated
    def get(self) -> None:
        root = url_path_join(self.base_url, "opensink")
        spec = html.escape(url_path_join(root, "api/v1/openapi.json"))
        if not (STATIC / "viewer" / "swagger-ui-bundle.js").exists():
            self.set_status(503)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(MISSING.format(spec=spec))
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(PAGE.format(static=html.escape(url_path_join(root, "docs/static")), spec=spec))


def docs_handlers() -> list[tuple]:
    """Handler specs for the page and its assets (without base_url: the extension app prepends it)."""
    return [
        (r"/opensink/docs/?", DocsPageHandler),
        (r"/opensink/docs/static/(.*)", AuthenticatedFileHandler, {"path": str(STATIC)}),
    ]
