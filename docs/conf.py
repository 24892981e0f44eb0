"""Sphinx configuration of the jupyter_opensink documentation site.

Building the docs: install the ``docs`` extra (``pip install -e ".[docs]"``; the ``test`` extra includes it)
and run ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` from the repository's root, then
open ``docs/_build/html/index.html``. ``-W`` turns every warning into an error, as the test suite does
(``tests/test_docs_site.py``): a broken link, an autodoc docstring Sphinx cannot parse, a configurable trait
without help or a route without a summary fails the build. The configuration and HTTP references are not
written by hand: the local extensions in ``docs/_ext`` render them from ``OpenSinkApp``'s traits and from
the server's OpenAPI description, so they change with the code.

The pages are Markdown (MyST), organised by audience: ``users/``, ``operators/``, ``reference/`` and
``developers/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# The checked-out package is the one documented, even where another copy is installed.
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(0, str(DOCS / "_ext"))

from jupyter_opensink import __version__  # noqa: E402

project = "jupyter_opensink"
author = "the jupyter_opensink developers"
copyright = "the jupyter_opensink developers"  # noqa: A001 (Sphinx's name)
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "opensink_autodoc",  # the client's resource methods (descriptors) documented as methods
    "opensink_config",  # the opensink-config directive: the configuration reference, from the traits
    "opensink_http",  # the opensink-http directive: the HTTP reference, from the OpenAPI description
]
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]
# Text stays as written: quotes and "--" in option names are what a reader types, never typographic ones.
smartquotes = False
# Off: the type hints autodoc shows name classes without a page here (httpx's, the client's reply types).
nitpicky = False

# -- MyST -------------------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "fieldlist"]
# Headings up to level 3 get anchors, so pages link to each other's sections as "page.md#heading".
myst_heading_anchors = 3

# -- autodoc ----------------------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"

# -- HTML -------------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"jupyter_opensink {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
