"""States' rules: versions, conditions, concurrent writers, expiry and purge (the routes: tests/api/test_states.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from jupyter_opensink import ids
from jupyter_opensink.errors import NotFound, PreconditionFailed


async def test_conditions_on_versions(services, workspace_id):
    states = services.states
    made, created = await states.put(workspace_id, "ns", "k", 1, if_none_match=True)
    assert created and made["version"] == 1
    with pytest.raises(PreconditionFailed, match="already exists"):
        await states.put(workspace_id, "ns", "k", 2, if_none_match=True)
    with pytest.raises(PreconditionFailed, match="version 1"):
        await states.put(workspace_id, "ns", "k", 3, if_match=7)
    updated, created = await states.put(workspace_id, "ns", "k", 3, if_match=1)
    assert not created and updated["version"] == 2 and updated["id"] == made["id"]
    with pytest.raises(PreconditionFailed, match="no such state"):
        await states.put(workspace_id, "ns", "missing", 1, if_match=1)
    with pytest.raises(PreconditionFailed):
        await states.delete(workspace_id, "ns", "k", if_match=1)
    assert (await states.delete(workspace_id, "ns", "k", if_match=2))["key"] == "k"
    with pytest.raises(NotFound):
        await states.get(workspace_id, "ns", "k")


async def test_two_concurrent_conditional_writers_exactly_one_wins(services, workspace_id):
    states = services.states
    await states.put(workspace_id, "race", "counter", 0)
    for round_ in range(5):
        version = (await states.get(workspace_id, "race", "counter"))["version"]
        outcomes = await asyncio.gather(*[states.put(workspace_id, "race", "counter", f"writer {w} round {round_}",
                                                     if_match=version) for w in range(2)],
                                        return_exceptions=True)
        assert sorted(type(o).__name__ for o in outcomes) == ["PreconditionFailed", "tuple"], outcomes
        assert (await states.get(workspace_id, "race", "counter"))["version"] == version + 1


async def test_expired_states_vanish_at_once_and_are_purged(services, workspace_id):
    states = services.states
    soon = ids.format_time(time.time() + 0.5)
    await states.put(workspace_id, "tmp", "token", "abc", expires_at=soon)
    await states.put(workspace_id, "tmp", "kept", "forever")
    await asyncio.sleep(max(0.0, ids.parse_time(soon).timestamp() - time.time()) + 0.1)
    with pytest.raises(NotFound):
        await states.get(workspace_id, "tmp", "token")
    listed = await states.list(workspace_id, "tmp", None, limit=10, after=None, order="asc")
    assert [s["key"] for s in listed.items] == ["kept"]
    assert await services.store.count("states") == 2  # invisible, not yet purged
    assert await states.purge_expired() == 1
    assert await services.store.count("states") == 1
    rewritten, created = await states.put(workspace_id, "tmp", "token", "new")
    assert created and rewritten["version"] == 1  # a fresh state, not version 2 of the expired one
