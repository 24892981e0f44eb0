"""The client's typed results: client/types.py generated from the reply models, and checked by mypy."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_opensink.client import typegen


def test_the_generated_types_match_the_reply_models():
    assert typegen.TARGET.read_text() == typegen.render(), (
        "client/types.py is out of date with jupyter_opensink/models: "
        "run python -m jupyter_opensink.client.typegen")


def test_every_reply_model_has_its_typeddict():
    from jupyter_opensink.client import types

    for model in typegen.reply_models():
        generated = getattr(types, model.__name__)
        keys = {info.alias or name for name, info in model.model_fields.items()}
        assert set(generated.__annotations__) == keys, model


def test_importing_the_client_imports_neither_pydantic_nor_the_models():
    code = ("import sys, jupyter_opensink.client\n"
            "assert not [m for m in sys.modules if m.startswith(('pydantic', 'jupyter_opensink.models'))]")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


SAMPLE = Path(__file__).with_name("typecheck") / "client_usage.py"
MYPY_CONFIG = """\
[mypy]
strict = True
incremental = False
mypy_path = {root}
# httpx is typed, but checking it takes seconds and tells nothing about the client's own types.
[mypy-httpx.*,httpcore.*,anyio.*]
follow_imports = skip
# The package's root only names the server's and the widgets' entry points: not the client.
[mypy-jupyter_opensink]
ignore_errors = True
[mypy-jupyter_opensink.app,jupyter_opensink.widgets]
follow_imports = skip
"""


@pytest.mark.system  # a whole type checker run over the client (about ten seconds of one core)
def test_mypy_sees_the_reply_types_and_reports_a_misspelt_key(tmp_path):
    """The sample's results are the TypedDicts (``assert_type``), and only its marked lines are errors.

    The client's own modules are checked too (strict): mypy finds them through
    ``mypy_path``, not PYTHONPATH, whose modules it would take for an installed
    package and not report on.
    """
    config = tmp_path / "mypy.ini"
    config.write_text(MYPY_CONFIG.format(root=SAMPLE.parents[2]))
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "MYPYPATH")}
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(config), "--no-error-summary",
                           str(SAMPLE)], capture_output=True, text=True, cwd=tmp_path, env=env)
    reported = set(re.findall(r"client_usage\.py:(\d+): error: .*\[([a-z-]+)\]$", done.stdout, re.MULTILINE))
    expected = {(str(number), code) for number, line in enumerate(SAMPLE.read_text().splitlines(), 1)
                for code in re.findall(r"# error: ([a-z-]+)$", line)}
    assert expected and reported == expected, done.stdout + done.stderr
    assert done.stdout.count(": error:") == len(expected), done.stdout  # nothing in the client itself either
