"""Every ```python and ```bash block of README.md and docs/**/*.md runs against a real server.

The convention (also in docs/developers/testing.md, "Examples in the docs are run"):

- A block is run unless the line right before its fence is ``<!-- example: not run (reason) -->``; the
  reason is required.
- ``<!-- example: continues -->`` runs a block as a continuation of the file's previous run block of the
  same language: one shell (or one Python process) for the whole sequence.
- Bash: ``NAME=...`` (the value literally ``...``) is for the reader to fill in; here the line is left out and
  NAME comes from the test (``TOKEN``: the server's token). The addresses ``127.0.0.1:8888`` (the Jupyter
  server) and the port ``8700`` (an example agent's endpoint) are replaced by free ports. Python blocks run
  with ``OPENSINK_URL`` and ``OPENSINK_API_KEY`` set, as in a kernel of the server (top-level ``await``
  works, as in a notebook).
- Output shown after ``# ->`` is not checked; a failing command (``set -e -o pipefail``), a Python exception
  or a run past the time limit fails the test, naming the file and line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .servers import free_port, start_server

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("python", "bash")
MARKER = re.compile(r"^<!--\s*example:\s*(?P<what>.*?)\s*-->$")
NOT_RUN = re.compile(r"^not run\s*\((?P<reason>.*)\)$")
PLACEHOLDER = re.compile(r"^(?P<indent>\s*)(?P<name>[A-Za-z_][A-Za-z0-9_]*)=\.\.\.(?:\s.*)?$")
BLOCK_TIMEOUT = 120.0


def documents() -> list[Path]:
    """README.md and every Markdown file under docs/ (however deep), as they exist now."""
    docs = ROOT / "docs"
    return [ROOT / "README.md", *(sorted(docs.glob("**/*.md")) if docs.is_dir() else [])]


@dataclass
class Block:
    path: Path
    language: str
    fence_line: int          # 1-based line of the opening fence
    lines: list[str]         # the code, which starts on fence_line + 1
    marker: str | None       # the text of the example comment right before the fence, if any

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.fence_line}"


@dataclass
class Sequence:
    blocks: list[Block] = field(default_factory=list)

    @property
    def where(self) -> str:
        return self.blocks[0].where

    @property
    def language(self) -> str:
        return self.blocks[0].language


def blocks_of(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        fence = re.match(r"^(`{3,})(\S*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        ticks, language = fence.group(1), fence.group(2)
        end = i + 1
        while end < len(lines) and lines[end].strip() != ticks:
            end += 1
        if language in LANGUAGES:
            before = MARKER.match(lines[i - 1].strip()) if i else None
            found.append(Block(path, language, i + 1, lines[i + 1:end], before.group("what") if before else None))
        i = end + 1
    return found


def plan() -> tuple[list[Sequence], list[tuple[Block, str]], list[str]]:
    """The sequences to run, the blocks not run with their reasons, and the mistakes in the markers."""
    sequences: list[Sequence] = []
    skipped: list[tuple[Block, str]] = []
    mistakes: list[str] = []
    for path in documents():
        last: dict[str, Sequence] = {}
        for block in blocks_of(path):
            if block.marker is None:
                last[block.language] = Sequence([block])
                sequences.append(last[block.language])
            elif block.marker == "continues":
                if block.language not in last:
                    mistakes.append(f"{block.where}: 'continues' but no earlier run {block.language} block")
                else:
                    last[block.language].blocks.append(block)
            elif m := NOT_RUN.match(block.marker):
                if not m.group("reason").strip():
                    mistakes.append(f"{block.where}: 'not run' without a reason")
                skipped.append((block, m.group("reason").strip()))
            else:
                mistakes.append(f"{block.where}: unknown example marker {block.marker!r} "
                                "(use 'not run (reason)' or 'continues')")
    return sequences, skipped, mistakes


SEQUENCES, SKIPPED, MISTAKES = plan()


def test_markers_are_well_formed():
    """Every skip gives a reason, every 'continues' follows a run block, no other marker is used."""
    assert not MISTAKES, "\n".join(MISTAKES)
    for block, reason in SKIPPED:
        assert reason, f"{block.where}: a block not run must say why"


def test_the_readme_has_runnable_examples():
    """The finder sees the README's blocks (a broken finder would make every other test vanish)."""
    where = [s.where for s in SEQUENCES]
    assert any(w.startswith("README.md") for w in where), where
    assert {"python", "bash"} <= {s.language for s in SEQUENCES}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("examples")
    running = start_server(workdir / "server", workdir / "db", base_url="/", app="server")
    try:
        with running.client() as http:
            reply = http.post("/api-keys", json={"name": "examples"})
            reply.raise_for_status()
        yield running, reply.json()["key"]
    finally:
        running.stop()


def script_of(sequence: Sequence, substitutions: list[tuple[re.Pattern, str]], known: dict[str, str]) -> str:
    """One script holding every block of the sequence at its own line numbers (blank lines elsewhere), so an
    error's line number is the document's."""
    lines = [""] * (sequence.blocks[-1].fence_line + len(sequence.blocks[-1].lines) + 1)
    for block in sequence.blocks:
        for offset, text in enumerate(block.lines):
            number = block.fence_line + 1 + offset
            for pattern, value in substitutions:
                text = pattern.sub(value, text)
            if block.language == "bash" and (m := PLACEHOLDER.match(text)):
                name = m.group("name")
                assert name in known, f"{block.path.relative_to(ROOT)}:{number}: no value for {name}=..."
                text = f"{m.group('indent')}: {name} is set by the test"
            lines[number - 1] = text
    return "\n".join(lines) + "\n"


PYTHON_RUNNER = """\
import ast, asyncio, inspect, sys
source = open(sys.argv[1]).read()
code = compile(source, sys.argv[2], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
result = eval(code, {"__name__": "__main__"})
if inspect.iscoroutine(result):
    asyncio.run(result)
"""


@pytest.mark.parametrize("sequence", [pytest.param(s, id=s.where) for s in SEQUENCES]
                         + [pytest.param(None, id=b.where, marks=pytest.mark.skip(reason=f"not run: {r}"))
                            for b, r in SKIPPED])
def test_example_runs(sequence: Sequence, server, tmp_path):
    running, key = server
    port = running.url.split(":")[2].split("/")[0]
    agent_port = free_port()
    substitutions = [(re.compile(r"127\.0\.0\.1:8888\b"), f"127.0.0.1:{port}"),
                     (re.compile(r"\b8700\b"), str(agent_port))]
    env = {**os.environ, "TOKEN": running.token, "OPENSINK_URL": running.url, "OPENSINK_API_KEY": key}
    script = script_of(sequence, substitutions, {"TOKEN": running.token})
    name = str(sequence.blocks[0].path.relative_to(ROOT))
    if sequence.language == "bash":
        path = tmp_path / "example.sh"
        path.write_text("set -e -o pipefail; trap 'echo \"failed at " + name + ":$LINENO\" >&2' ERR" + script)
        command = ["bash", str(path)]
    else:
        path = tmp_path / "example.py"
        path.write_text(script)
        command = [sys.executable, "-c", PYTHON_RUNNER, str(path), name]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, text=True)
    try:
        output, _ = proc.communicate(timeout=BLOCK_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"{sequence.where}: still running after {BLOCK_TIMEOUT:.0f} s\n{output}", pytrace=False)
    finally:
        try:  # whatever the example left running in the background (an agent's endpoint)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    print(output)  # shown with -rP
    if proc.returncode != 0:
        pytest.fail(f"{sequence.where} (a {sequence.language} example) failed with exit status "
                    f"{proc.returncode}:\n{output}", pytrace=False)
