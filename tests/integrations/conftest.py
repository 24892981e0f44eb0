"""What every adapter test needs: a real server (one per test module) and a person who answers.

No model provider is reachable here: each framework runs with its own offline test model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from jupyter_opensink.client import Client

from ..servers import start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("integrations")
    running = start_server(base / "work", base / "db", "--OpenSinkApp.fsync=never")
    with running.client() as admin:
        running.key = admin.post("/api-keys", json={"name": "integration tests"}).json()["key"]
    yield running
    running.stop()


@pytest.fixture
def client(server):
    with Client(server.url, server.key) as c:
        yield c


@pytest.fixture
def person(server):
    """``person(decide, count=1)``: someone answering the next ``count`` pending requests (in another thread,
    as a person in the inbox would), each with ``decide(request)`` -> the resolve body (``{"decision": ...,
    "response": ..., "comment": ...}``). Returns the list of requests they saw, filled as they answer."""
    threads: list[threading.Thread] = []

    def answer(decide: Callable[[dict[str, Any]], dict[str, Any]], count: int = 1,
               timeout: float = 30) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []

        def run() -> None:
            with Client(server.url, server.key) as inbox:
                deadline = time.monotonic() + timeout
                while len(seen) < count and time.monotonic() < deadline:
                    for request in inbox.input_requests.list(status="pending", order="asc")["items"]:
                        if len(seen) >= count or any(r["id"] == request["id"] for r in seen):
                            continue
                        seen.append(request)
                        inbox.input_requests.resolve(request["id"], **decide(request))
                    time.sleep(0.05)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
        return seen

    yield answer
    for thread in threads:
        thread.join(timeout=35)
