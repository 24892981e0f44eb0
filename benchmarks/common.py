"""What the benchmark scripts share: percentiles and a throwaway real server."""

from __future__ import annotations

import shutil
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
    server = start_server(work, work / "db", *extra)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
