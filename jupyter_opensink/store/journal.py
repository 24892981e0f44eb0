"""The write-ahead journal: segmented, append-only, checksummed, group-committed.

Each line is one transaction: ``<crc32 as 8 hex digits> <json payload>\\n``.
Lines are written with ``os.write`` on the event loop thread (a few
microseconds), so a killed process never loses an acknowledged line. With the
``always`` policy, writers then wait for an fsync that a single worker thread
runs for everything written so far: concurrent writers share one fsync.

A new segment file is started at every open and at every compaction, so a
torn tail can only ever be at the end of a segment, never followed by new
writes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import CorruptDatabase, StoreFailed

log = logging.getLogger(__name__)

SEGMENT_RE = re.compile(r"^journal\.(\d{8})\.log\Z")
FSYNC_POLICIES = ("always", "never")


def segment_name(seq: int) -> str:
    return f"journal.{seq:08d}.log"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    found = []
    for entry in directory.iterdir():
        m = SEGMENT_RE.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry))
    return sorted(found)


def encode_line(payload: bytes) -> bytes:
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def _decode_line(line: bytes) -> bytes | None:
    """The payload of a whole, intact line, or None when it is torn or damaged."""
    if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
        return None
    payload = line[9:-1]
    try:
        crc = int(line[:8], 16)
    except ValueError:
        return None
    return payload if zlib.crc32(payload) == crc else None


def read_segment(path: Path) -> Iterator[bytes]:
    """Yield the payloads of a segment.

    Nothing is ever appended to a segment after the process that wrote it
    stops, so damaged lines at the very end can only be a crash mid-write:
    they are dropped with a warning. A damaged line followed by an intact one
    means the file itself was damaged: an error naming the file.
    """
    damaged_at: int | None = None
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            payload = _decode_line(line)
            if payload is None:
                if damaged_at is None:
                    damaged_at = number
                continue
            if damaged_at is not None:
                raise CorruptDatabase(f"{path}: line {damaged_at} is damaged and is followed by intact lines")
            yield payload
    if damaged_at is not None:
        log.warning("%s: dropped a torn write at line %d (the process stopped while writing it)",
                    path, damaged_at)


def fsync_directory(directory: Path) -> None:
    """Make a create, rename or unlink in ``directory`` durable (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """Appends transactions to the current segment and makes them durable."""

    def __init__(self, directory: Path, seq: int, *, fsync: str, executor: ThreadPoolExecutor):
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {FSYNC_POLICIES}, not {fsync!r}")
        self.directory = directory
        self.fsync = fsync == "always"
        self._executor = executor
        self._fd = -1
        self.seq = 0
        self._appended = 0  # lines written, ever
        self._synced = 0  # lines known durable
        self._round_running = False
        self._waiters: list[asyncio.Future] = []  # writers waiting for the next fsync
        self._retired: list[int] = []  # descriptors of rotated segments still to fsync and close
        self._failure: BaseException | None = None
        self._open_segment(seq)

    def _open_segment(self, seq: int) -> None:
        path = self.directory / segment_name(seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._offset = os.fstat(self._fd).st_size
        self.seq = seq
        if self.fsync:
            fsync_directory(self.directory)

    def append(self, payload: bytes) -> int:
        """Write one transaction; returns a ticket for ``durable``.

        On a failed write the segment is cut back to its last whole line, so
        a failed transaction never leaves a partial line before later ones.
        """
        if self._failure is not None:
            raise StoreFailed(f"the database stopped accepting writes: {self._failure}")
        line = encode_line(payload)
        try:
            written = os.write(self._fd, line)
            while written < len(line):  # short writes are rare (a full disk, a signal)
                written += os.write(self._fd, line[written:])
        except OSError as exc:
            try:
                os.ftruncate(self._fd, self._offset)
            except OSError as cut_exc:
                self._failure = cut_exc
            raise StoreFailed(f"could not write the journal: {exc}") from exc
        self._offset += len(line)
        self._appended += 1
        return self._appended

    @property
    def size(self) -> int:
        """Bytes in the current segment."""
        return self._offset

    async def durable(self, ticket: int) -> None:
        """Return once the line with ``ticket`` survives a power loss (``always``).

        The fsync starts at the end of the current loop iteration, so every
        writer that appended in this iteration shares it (group commit);
        writers arriving while it runs share the next one.
        """
        if not self.fsync:
            return
        while self._synced < ticket:
            if self._failure is not None:
                raise StoreFailed(f"the database stopped accepting writes: {self._failure}")
            loop = asyncio.get_running_loop()
            waiter = loop.create_future()
            self._waiters.append(waiter)
            if not self._round_running and len(self._waiters) == 1:
                loop.call_soon(self._start_round)
            await waiter

    def _start_round(self) -> None:
        if self._round_running or not self._waiters:
            return
        self._round_running = True
        upto, waiters, self._waiters = self._appended, self._waiters, []
        retired, self._retired = self._retired, []
        job = asyncio.get_running_loop().run_in_executor(self._executor, self._sync_descriptors, retired, self._fd)
        job.add_done_callback(lambda fut: self._round_done(fut, waiters, upto))

    def _round_done(self, job: asyncio.Future, waiters: list[asyncio.Future], upto: int) -> None:
        self._round_running = False
        exc = job.exception()
        if exc is not None:
            self._failure = exc
            log.error("fsync failed: the database stops accepting writes", exc_info=exc)
        else:
            self._synced = max(self._synced, upto)
        for waiter in waiters:
            if not waiter.done():  # a cancelled writer simply stops waiting
                waiter.set_result(None)
        if self._waiters:
            self._start_round()  # writers that arrived during this fsync

    @staticmethod
    def _sync_descriptors(retired: list[int], current: int) -> None:
        for fd in retired:
            os.fsync(fd)
            os.close(fd)
        os.fdatasync(current) if hasattr(os, "fdatasync") else os.fsync(current)

    async def flush(self) -> None:
        if self.fsync:
            await self.durable(self._appended)

    def rotate(self) -> int:
        """Start a new segment; returns the sequence number of the one just closed.

        Lines of the old segment not yet fsynced are covered by the next sync
        round, which fsyncs the old descriptor before closing it; so rotating
        never waits, even while writers keep the journal busy.
        """
        old_fd, old_seq = self._fd, self.seq
        self._open_segment(old_seq + 1)
        if self.fsync and self._synced < self._appended:
            self._retired.append(old_fd)
        else:
            os.close(old_fd)
        return old_seq

    def close(self) -> None:
        for fd in self._retired:
            os.close(fd)
        self._retired = []
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def remove_through(self, seq: int) -> None:
        """Delete the segments a durable snapshot now covers."""
        for number, path in list_segments(self.directory):
            if number <= seq:
                path.unlink(missing_ok=True)
        if self.fsync:
            fsync_directory(self.directory)
