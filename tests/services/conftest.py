"""Domain rules tested on the services themselves: no Jupyter server, no HTTP, on both stores.

The HTTP suite (tests/api) proves the wiring (routing, auth, reply shapes, error mapping); the rules
behind it are cheaper to test here, where a test is a few service calls on a fresh store.
"""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_opensink.runtime.events import EventBus
from jupyter_opensink.runtime.outbound import Outbound
from jupyter_opensink.services import TABLES, Services
from jupyter_opensink.store import TinyStore, open_postgres


@pytest.fixture(params=["tinydb", "postgres"])
def services(request, tmp_path, jp_asyncio_loop) -> Any:
    """Every service over a new, empty store (TinyDB in a temporary folder, or a new PostgreSQL database with the schema and no rows)."""
    if request.param == "postgres":
        store = open_postgres(request.getfixturevalue("pg_app_database"), TABLES, fsync="never")
        jp_asyncio_loop.run_until_complete(store.connect())
    else:
        store = TinyStore.open(tmp_path / "db", TABLES, fsync="never")
    outbound = Outbound(timeout=2.0)
    built = Services(store, EventBus(replay_size=1000), outbound)
    jp_asyncio_loop.run_until_complete(built.start())
    yield built
    jp_asyncio_loop.run_until_complete(built.stop())
    jp_asyncio_loop.run_until_complete(outbound.close())
    jp_asyncio_loop.run_until_complete(store.close())


@pytest.fixture
def workspace_id(services, jp_asyncio_loop) -> str:
    """The default workspace's id."""
    return jp_asyncio_loop.run_until_complete(services.workspaces.default_id())
