"""Kill a writing process with SIGKILL, reload, and check every acknowledged write."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from tinydb import TinyDB

from jupyter_opensink.store import TinyStore

from .specs import SPECS

ROOT = Path(__file__).resolve().parents[2]


def start_writer(directory: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_writer", str(directory), *args],
        stdout=subprocess.PIPE, cwd=ROOT, env=env, text=True,
    )


def run_until_killed(directory: Path, acks: list[str], *, kill_after: float, args: tuple[str, ...]) -> None:
    """Run the writer for ``kill_after`` seconds (or until it kills itself), then SIGKILL it."""
    proc = start_writer(directory, *args)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "READY"
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    reader.join(timeout=10)
    proc.stdout.close()
    # Only whole lines were acknowledged; a cut-off last line was not.
    acks.extend(line.strip() for line in lines if line.endswith("\n") and line.strip())


class Expected:
    """What the acknowledgements promise about the database."""

    def __init__(self) -> None:
        self.present: set[str] = set()
        self.deleted: set[str] = set()
        self.delete_attempted: set[str] = set()
        self.min_n: dict[str, int] = {}
        self.batches: dict[str, set[str]] = {}

    def feed(self, acks: list[str]) -> None:
        for line in acks:
            kind, rest = line.split(" ", 1)
            if kind == "I":
                self.present.add(rest)
            elif kind == "U":
                doc_id, n = rest.split()
                self.min_n[doc_id] = max(self.min_n.get(doc_id, 0), int(n))
            elif kind == "d":
                self.delete_attempted.add(rest)
            elif kind == "D":
                self.present.discard(rest)
                self.deleted.add(rest)
            elif kind == "B":
                tag, joined = rest.split()
                self.batches[tag] = set(joined.split(","))


async def check_database(directory: Path, expected: Expected) -> int:
    store = TinyStore.open(directory, SPECS, fsync="never")
    try:
        docs = await store.all("items")
        by_id = {d["id"]: d for d in docs}
        assert len(by_id) == len(docs), "a document is present twice"
        missing = expected.present - by_id.keys() - expected.delete_attempted
        assert not missing, f"{len(missing)} acknowledged inserts lost"
        resurrected = expected.deleted & by_id.keys()
        assert not resurrected, f"{len(resurrected)} acknowledged deletes undone"
        for doc_id, n in expected.min_n.items():
            if doc_id in by_id:
                assert by_id[doc_id]["n"] >= n, "an acknowledged update was lost"
        for tag, members in expected.batches.items():
            found = {d["id"] for d in (await store.all("items", {"batch": tag}))}
            assert found == members, f"batch {tag} is not whole"
        # Every batch on disk is whole, acknowledged or not.
        tags = {d["batch"] for d in docs if "batch" in d}
        for tag in tags:
            assert await store.count("items", {"batch": tag}) == 3
        return len(docs)
    finally:
        await store.close(snapshot=False)


@pytest.mark.parametrize("fsync", ["always", "never"])
def test_sigkill_loses_no_acknowledged_write(tmp_path: Path, fsync: str) -> None:
    rng = random.Random(7)
    expected = Expected()
    for round_number in range(4):
        acks: list[str] = []
        run_until_killed(tmp_path, acks, kill_after=rng.uniform(0.3, 1.2),
                         args=("--fsync", fsync, "--seed", str(round_number)))
        assert acks, "the writer acknowledged nothing before it was killed"
        expected.feed(acks)
        count = asyncio.run(check_database(tmp_path, expected))
        assert count >= len(expected.present)


def test_sigkill_while_compacting_often(tmp_path: Path) -> None:
    """A tiny compaction threshold makes kills land in every compaction stage by chance."""
    rng = random.Random(11)
    expected = Expected()
    for round_number in range(5):
        acks: list[str] = []
        run_until_killed(tmp_path, acks, kill_after=rng.uniform(0.3, 1.0),
                         args=("--fsync", "always", "--compact-min-bytes", "20000",
                               "--seed", str(100 + round_number)))
        expected.feed(acks)
        asyncio.run(check_database(tmp_path, expected))
    assert (tmp_path / "opensink.json").exists(), "no compaction ran"


@pytest.mark.parametrize("stage", ["rotated", "written", "replaced", "pruned"])
def test_kill_at_each_compaction_stage(tmp_path: Path, stage: str) -> None:
    expected = Expected()
    # First a normal run so there is a snapshot to replace, then one killed mid-compaction.
    for args in (("--compact-min-bytes", "30000"),
                 ("--compact-min-bytes", "30000", "--kill-at", stage, "--seed", "3")):
        acks: list[str] = []
        run_until_killed(tmp_path, acks, kill_after=3.0, args=("--fsync", "always", *args))
        expected.feed(acks)
        asyncio.run(check_database(tmp_path, expected))
    # The snapshot that survived is a complete TinyDB database.
    with TinyDB(tmp_path / "opensink.json", access_mode="r") as db:
        assert all("id" in doc for doc in db.table("items").all())
