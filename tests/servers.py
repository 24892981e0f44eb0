"""Start real Jupyter servers as child processes (127.0.0.1, a free port)."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
#: The server extensions a Python environment with JupyterLab enables beside ours. ``jupyter server`` started
#: by a test loads ours alone (nothing those tests check needs the others, and they cost about 0.9 s of CPU
#: per start, almost half of it); ``jupyter lab`` and servers started with ``others=True`` (the benchmarks:
#: they measure what a user runs) load every enabled one.
OTHER_EXTENSIONS = ("jupyterlab", "notebook", "notebook_shim", "jupyter_lsp", "jupyter_server_terminals")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    proc: subprocess.Popen
    url: str  # the OpenSink root, e.g. http://127.0.0.1:PORT/base/opensink
    token: str
    log_path: Path

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    def client(self, key: str | None = None) -> httpx.Client:
        auth = f"Bearer {key}" if key else f"token {self.token}"
        return httpx.Client(base_url=self.api, headers={"Authorization": auth}, timeout=30)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def until(check: Callable[[], Any], timeout: float = 20.0, what: str = "the condition") -> Any:
    """What ``check()`` returns once it is truthy, asked every 0.1 s for at most ``timeout`` seconds (then an
    AssertionError naming ``what``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout} s for {what}")


async def until_listening(port: int, timeout: float = 30.0) -> None:
    """Once something accepts connections on 127.0.0.1:``port`` (a process just started may take seconds to
    bind on a loaded machine); AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on port {port} after {timeout} s") from None
            await asyncio.sleep(0.05)
        else:
            writer.close()
            return


def start_server(workdir: Path, db_dir: Path, *extra: str, base_url: str = "/jp/",
                 timeout: float = 60, app: str = "server", env: dict[str, str] | None = None,
                 ready_path: str = "opensink/api/v1/workspaces", port: int | None = None,
                 token: str | None = None, others: bool = False) -> RunningServer:
    """``jupyter server`` (or ``jupyter lab``) with the extension enabled by its installed config; the other
    enabled extensions only with ``app="lab"`` or ``others`` (see ``OTHER_EXTENSIONS``).

    Ready once ``ready_path`` (under the base URL) answers 200 to the token. A port picked here is free when
    picked, but another process of the run may take it before the server binds it: the server then exits
    saying so, and it is started again on another port (three tries).
    """
    if app == "server" and not others:
        off = ", ".join(f"'{name}': False" for name in OTHER_EXTENSIONS)
        extra = (f"--ServerApp.jpserver_extensions={{{off}}}", *extra)
    if port is not None:
        return _start_server(workdir, db_dir, *extra, base_url=base_url, timeout=timeout, app=app, env=env,
                             ready_path=ready_path, port=port, token=token)
    for attempt in range(3):
        try:
            return _start_server(workdir, db_dir, *extra, base_url=base_url, timeout=timeout, app=app, env=env,
                                 ready_path=ready_path, port=free_port(), token=token)
        except PortTaken:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


class PortTaken(RuntimeError):
    """The server exited because another process took its port first."""


def _start_server(workdir: Path, db_dir: Path, *extra: str, base_url: str, timeout: float, app: str,
                  env: dict[str, str] | None, ready_path: str, port: int, token: str | None) -> RunningServer:
    token = token or secrets.token_hex(16)
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"server-{port}.log"
    args = [
        str(Path(sys.executable).parent / "jupyter"), app,
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.base_url={base_url}", f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False", f"--ServerApp.root_dir={workdir}",
        f"--OpenSinkApp.db_dir={db_dir}", *extra,
    ]
    if os.geteuid() == 0:
        args.append("--allow-root")
    # This checkout's package first, whichever one the environment has installed.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"), "PYTHONPATH": path, **(env or {})}
    log_file = open(log_path, "ab")
    proc = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, cwd=workdir, env=env)
    log_file.close()
    server = RunningServer(proc, f"http://127.0.0.1:{port}{base_url}opensink", token, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = server.log()
            kind = PortTaken if f"port {port} is not available" in log else RuntimeError
            raise kind(f"server exited with {proc.returncode}:\n{log}")
        try:
            reply = httpx.get(f"http://127.0.0.1:{port}{base_url}{ready_path}", headers={"Authorization": f"token {token}"}, timeout=2)
            if reply.status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not answer within {timeout}s:\n{server.log()}")
