"""This server's kernels as notebook agents need them: which exist, and which process each runs in.

A kernel keeps its id across a restart but not its process, so the process id tells a notebook agent's
kernel apart from the one that replaced it. Jupyter's kernel manager is handed in by the app; nothing
here imports Jupyter.
"""

from __future__ import annotations

import os
import socket
from typing import Any


class JupyterKernels:
    def __init__(self, kernel_manager: Any, server: str):
        self._manager = kernel_manager
        #: Who this server is, on a database other servers may share.
        self.server = server
        #: The machine: a kernel process of another server here can still be looked at.
        self.host = socket.gethostname()

    @staticmethod
    def process_alive(pid: int) -> bool:
        """Whether a process of this machine with that id still runs (a kernel of another, or an earlier,
        server on this machine)."""
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # it runs, as someone else
        return True

    def pid(self, kernel_id: str) -> int | None:
        """The kernel's process id; None when this server runs no such kernel (or it has no process yet)."""
        manager = self._manager
        if manager is None or kernel_id not in manager:
            return None
        provisioner = getattr(manager.get_kernel(kernel_id), "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        return pid if isinstance(pid, int) else None
