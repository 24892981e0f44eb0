"""The write-ahead journal: segmented, append-only, checksummed, group-committed.

Each line is one transaction: ``<crc32 as 8 hex digits> <json payload>\\n``.
Lines are written with ``os.pwrite`` on the event loop thread (a few
microseconds), so a killed process never loses an acknowledged line. With the
``always`` policy, writers then wait for an fdatasync that covers their line.

Group commit is pipelined: a sync thread of the journal's own runs fdatasync
for everything written so far and, as soon as it returns, starts the next one
if anything was written meanwhile, with no hand-off through the event loop
between rounds. Writers arriving while an fdatasync runs are covered by the
next one; the loop hears when a round is done (which lines it covers) and
wakes the thread, at the end of a loop iteration, only when it sleeps.

Segments are preallocated (``posix_fallocate``) ahead of the writes in growing
steps, so the file system does not have to find blocks at every sync; the
unused part of a segment reads as zero bytes and is cut off when the journal
closes. A new segment file is started at every open and at every compaction,
so a torn tail can only ever be at the end of a segment (followed at most by
that zero tail), never followed by new writes.
"""

from __future__ import annotations

import asyncio
import errno
import heapq
import itertools
import logging
import os
import re
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

from ..errors import CorruptDatabase, StoreFailed

log = logging.getLogger(__name__)

SEGMENT_RE = re.compile(r"^journal\.(\d{8})\.log\Z")
FSYNC_POLICIES = ("always", "never")
PREALLOCATE_MIN = 64 * 1024  # the first step of a segment, and the smallest one
PREALLOCATE_MAX = 8 * 1024 * 1024  # steps grow with the segment (an eighth of it) up to this
_TAIL_BLOCK = 64 * 1024

_datasync = getattr(os, "fdatasync", os.fsync)


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


def segment_length(path: Path) -> int:
    """Bytes of a segment holding data: its size without the zero tail left by preallocation."""
    with open(path, "rb") as fh:
        end = fh.seek(0, os.SEEK_END)
        while end > 0:
            start = max(0, end - _TAIL_BLOCK)
            fh.seek(start)
            block = fh.read(end - start)
            stripped = block.rstrip(b"\0")
            if stripped:
                return start + len(stripped)
            end = start
    return 0


def read_segment(path: Path) -> Iterator[bytes]:
    """Yield the payloads of a segment.

    Nothing is ever appended to a segment after the process that wrote it
    stops, so damaged lines at the very end can only be a crash mid-write:
    they are dropped with a warning. A damaged line followed by an intact one
    means the file itself was damaged: an error naming the file. Zero bytes at
    the end are the unused preallocated part, not data.
    """
    damaged_at: int | None = None
    length = segment_length(path)
    with open(path, "rb") as fh:
        for number, line in enumerate(_lines(fh, length), start=1):
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


def _lines(fh, length: int) -> Iterator[bytes]:
    """The lines of the first ``length`` bytes of ``fh`` (the last one may lack its newline)."""
    left = length
    if left <= 0:
        return
    for line in fh:
        if len(line) >= left:
            yield line[:left]
            return
        left -= len(line)
        yield line


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

    def __init__(self, directory: Path, seq: int, *, fsync: str):
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {FSYNC_POLICIES}, not {fsync!r}")
        self.directory = directory
        self.fsync = fsync == "always"
        self._fd = -1
        self.seq = 0
        self._offset = 0  # bytes of data in the current segment
        self._allocated = 0  # bytes preallocated in the current segment (0: not preallocating)
        self._preallocate = hasattr(os, "posix_fallocate")
        self._appended = 0  # lines written, ever
        self._synced = 0  # lines known durable (event loop's view)
        self._waiters: list[tuple[int, int, asyncio.Future]] = []  # (ticket, order, future): a heap
        self._order = itertools.count()
        self._kick_due = False  # the sync thread's wake-up is scheduled on the loop
        self._thread: threading.Thread | None = None  # started by the first durable write
        self._gate = threading.Lock()  # held while the sync thread sleeps; released to wake it
        self._gate.acquire()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Shared with the sync thread, under _state: which descriptors a round covers.
        self._state = threading.Lock()
        self._syncing = False  # the sync thread is awake (or being woken)
        self._flushed = 0  # lines the sync thread has made durable (its own view)
        self._retired: list[int] = []  # descriptors of rotated segments still to fsync and close
        self._closed = False  # no more writes (close)
        self._failure: BaseException | None = None
        self._open_segment(seq)

    def _open_segment(self, seq: int) -> None:
        """Create segment ``seq`` and write to it from now on (the switch is made under the lock the sync
        thread reads the descriptor with); on an error the current segment stays."""
        path = self.directory / segment_name(seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        old = self._offset, self._allocated
        self._offset = self._allocated = os.fstat(fd).st_size
        try:
            self._extend(fd, PREALLOCATE_MIN)
            if self.fsync:
                fsync_directory(self.directory)
        except BaseException:
            os.close(fd)
            self._offset, self._allocated = old
            raise
        with self._state:
            self._fd, self.seq = fd, seq

    def _extend(self, fd: int, need: int) -> None:
        """Preallocate at least ``need`` more bytes past the data, in steps growing with the segment."""
        if not self._preallocate:
            return
        step = max(need, min(PREALLOCATE_MAX, max(PREALLOCATE_MIN, self._offset // 8)))
        try:
            os.posix_fallocate(fd, self._allocated, self._offset + step - self._allocated)
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                self._preallocate = False  # the file system cannot: plain writes extend the file
                return
            raise
        self._allocated = self._offset + step

    def append(self, payload: bytes) -> int:
        """Write one transaction; returns a ticket for ``durable``.

        On a failed write the segment is cut back to its last whole line, so
        a failed transaction never leaves a partial line before later ones.
        """
        if self._failure is not None:
            raise StoreFailed(f"the database stopped accepting writes: {self._failure}")
        line = encode_line(payload)
        fd, offset = self._fd, self._offset
        try:
            if offset + len(line) > self._allocated and self._preallocate:
                self._extend(fd, len(line))
            written = os.pwrite(fd, line, offset)
            while written < len(line):  # short writes are rare (a full disk, a signal)
                written += os.pwrite(fd, line[written:], offset + written)
        except OSError as exc:
            try:
                os.ftruncate(fd, offset)
                self._allocated = offset if self._preallocate else 0
            except OSError as cut_exc:
                self._failure = cut_exc
            raise StoreFailed(f"could not write the journal: {exc}") from exc
        self._offset = offset + len(line)
        self._appended += 1
        return self._appended

    @property
    def size(self) -> int:
        """Bytes of data in the current segment."""
        return self._offset

    async def durable(self, ticket: int) -> None:
        """Return once the line with ``ticket`` survives a power loss (``always``).

        The sync thread is woken at the end of the current loop iteration if it
        sleeps, so every writer of this iteration shares its first
        fdatasync; lines written while it runs an fdatasync are covered by its
        next one, which it starts as soon as that one returns (group commit).
        """
        if not self.fsync or self._synced >= ticket:
            return
        if self._failure is not None:
            raise StoreFailed(f"the database stopped accepting writes: {self._failure}")
        loop = self._loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        heapq.heappush(self._waiters, (ticket, next(self._order), waiter))
        if not self._kick_due:  # (whether the thread is awake is only known under its lock, in _kick)
            self._kick_due = True
            loop.call_soon(self._kick)
        await waiter

    def _kick(self) -> None:
        """Wake the sync thread unless it is awake: at the end of the loop iteration in which the first
        writer began to wait, so every writer of that iteration shares the first fdatasync."""
        self._kick_due = False
        with self._state:
            if self._syncing or self._closed:
                return  # awake: it sees the new lines after its current fdatasync
            self._syncing = True
        if self._thread is None:
            self._thread = threading.Thread(target=self._sync_thread, name="opensink-fsync", daemon=True)
            self._thread.start()
        self._gate.release()

    def _sync_thread(self) -> None:
        """Sleep until woken, then fdatasync until nothing written is left unsynced; until closed."""
        while True:
            self._gate.acquire()
            if not self._sync_rounds():
                return

    def _sync_rounds(self) -> bool:
        """One fdatasync after the other, each for everything written before it starts, each reported to
        the loop; False once the journal is closed and nothing is left."""
        upto = self._flushed
        try:
            while True:
                with self._state:
                    upto, fd, retired = self._appended, self._fd, self._retired
                    if upto <= self._flushed and not retired:
                        self._syncing = False
                        return not self._closed
                    self._retired = []
                for old in retired:
                    os.fsync(old)
                    os.close(old)
                if fd >= 0:
                    _datasync(fd)
                self._flushed = upto
                self._report(upto, None)
        except BaseException as exc:  # an fsync error: reported, the journal stops taking writes
            with self._state:
                self._syncing = False
            self._report(upto, exc)
            return not self._closed

    def _report(self, upto: int, exc: BaseException | None) -> None:
        loop = self._loop
        try:
            if loop is not None:
                loop.call_soon_threadsafe(self._round_done, upto, exc)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more

    def _round_done(self, upto: int, exc: BaseException | None) -> None:
        waiters = self._waiters
        if exc is not None:
            if self._failure is None:
                self._failure = exc
                log.error("fsync failed: the database stops accepting writes", exc_info=exc)
            self._waiters = []
            for _, _, waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(StoreFailed(f"the database stopped accepting writes: {exc}"))
            return
        if upto > self._synced:
            self._synced = upto
        while waiters and waiters[0][0] <= upto:
            waiter = heapq.heappop(waiters)[2]
            if not waiter.done():  # a cancelled writer simply stops waiting
                waiter.set_result(None)

    async def flush(self) -> None:
        if self.fsync:
            await self.durable(self._appended)

    def rotate(self) -> int:
        """Start a new segment; returns the sequence number of the one just closed.

        Lines of the old segment not yet fsynced are covered by the next sync
        round, which fsyncs the old descriptor before closing it; so rotating
        never waits, even while writers keep the journal busy.
        """
        old_fd, old_seq, old_offset = self._fd, self.seq, self._offset
        self._open_segment(old_seq + 1)
        self._trim(old_fd, old_offset)
        self._retire(old_fd)
        return old_seq

    def _retire(self, fd: int) -> None:
        """Close ``fd`` now, or hand it to the sync thread when lines in it may still be unsynced or
        the thread may be using it."""
        with self._state:
            if self.fsync and (self._syncing or self._synced < self._appended):
                self._retired.append(fd)
                return
        os.close(fd)

    @staticmethod
    def _trim(fd: int, offset: int) -> None:
        """Cut the unused preallocated tail of a segment no longer written (best effort)."""
        try:
            os.ftruncate(fd, offset)
        except OSError:
            pass  # readers skip a zero tail anyway

    def close(self) -> None:
        """Stop writing; the sync thread, if awake, syncs and closes what it may be using, then ends."""
        if self._closed:
            return
        fd = self._fd
        self._trim(fd, self._offset)
        with self._state:
            self._closed = True
            self._fd = -1
            wake = not self._syncing
            self._syncing = True
        self._retire(fd)
        if self._thread is not None:
            if wake:
                self._gate.release()
            self._thread.join()
        else:
            with self._state:
                retired, self._retired = self._retired, []
            for old in retired:
                os.close(old)

    def remove_through(self, seq: int) -> None:
        """Delete the segments a durable snapshot now covers."""
        for number, path in list_segments(self.directory):
            if number <= seq:
                path.unlink(missing_ok=True)
        if self.fsync:
            fsync_directory(self.directory)
