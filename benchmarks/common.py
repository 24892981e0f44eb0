"""What the benchmark scripts share: percentiles and a throwaway real server.

Set ``OPENSINK_BENCH_PROFILE=/some/dir`` to record the server with py-spy while a
benchmark runs (``pip install py-spy``): collapsed stacks land in
``/some/dir/<benchmark>-<pid>.txt``, one line per stack with its sample count.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.servers import RunningServer, start_server  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


@contextmanager
def temporary_server(name: str, *extra: str) -> Iterator[RunningServer]:
    """A Jupyter server with the extension on a free loopback port and a fresh database."""
    work = Path(tempfile.mkdtemp(prefix=f"opensink-{name}-bench-"))
    # The server runs the code of this checkout (an editable install may point at another one), unless
    # PYTHONPATH says which code to run (to compare revisions).
    server = start_server(work, work / "db", *extra,
                          env={"PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT)}, others=True)
    profiler = profile(server, name)
    try:
        yield server
    finally:
        server.stop()
        if profiler:
            profiler.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


def profile(server: RunningServer, name: str) -> subprocess.Popen | None:
    """py-spy on the server until it exits, when OPENSINK_BENCH_PROFILE names a directory."""
    out_dir = os.environ.get("OPENSINK_BENCH_PROFILE")
    if not out_dir:
        return None
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = Path(out_dir) / f"{name}-{server.proc.pid}.txt"
    return subprocess.Popen([spy, "record", "--pid", str(server.proc.pid), "--rate", "250", "--format", "raw",
                             "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
