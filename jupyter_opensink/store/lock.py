"""One process owns a database directory at a time (an OS-level file lock).

The OS drops the lock when the process dies, even on SIGKILL, so a crash
never leaves a stale lock behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import StoreLocked

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
    import msvcrt


class DirectoryLock:
    def __init__(self, directory: Path):
        self.path = directory / "lock"
        self._fd = -1

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # pragma: no cover
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreLocked(
                f"{self.path.parent} is in use by another process (pid {holder}); "
                "stop it or configure a different database directory"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = -1
