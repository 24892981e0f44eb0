"""The client's typed results: client/types.py generated from the reply models, and checked by mypy."""

from __future__ import annotations

import subprocess
import sys

from jupyter_opensink.client import typegen


def test_the_generated_types_match_the_reply_models():
    assert typegen.TARGET.read_text() == typegen.render(), (
        "client/types.py is out of date with jupyter_opensink/models: run python -m jupyter_opensink.client.typegen")


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
