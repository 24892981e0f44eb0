"""The test suite (tests/conftest.py holds the fixtures).

This package is imported before any test module or conftest, so it is where the suite settles how its
processes keep bytecode.
"""

import os
import sys
from pathlib import Path


def _keep_bytecode() -> None:
    """Let the suite's processes keep compiled bytecode, outside the source tree.

    A shell exporting ``PYTHONDONTWRITEBYTECODE`` (often to keep ``__pycache__`` out of a checkout) made every
    process of a run compile the package again from source, and pytest rewrite every test module again: each
    xdist worker, server process, kernel and benchmark script, about a second of CPU apiece. The tree stays as
    clean as asked: the bytecode goes under ``.pytest_cache/bytecode`` (``sys.pycache_prefix``, which pytest's
    assertion rewriting honours too), and the processes the tests start inherit the same setting.
    """
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return
    prefix = str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "bytecode")
    os.environ.pop("PYTHONDONTWRITEBYTECODE")
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    sys.dont_write_bytecode = False
    sys.pycache_prefix = prefix


_keep_bytecode()
