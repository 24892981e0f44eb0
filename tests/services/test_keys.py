"""API keys' rules on the services."""

from __future__ import annotations

import asyncio
import datetime

import pytest

from jupyter_opensink import ids
from jupyter_opensink.errors import Unauthorized
from jupyter_opensink.runtime.credentials import KEY_REVOKED


async def test_the_kernels_key_is_marked_in_the_write_that_makes_it(services):
    """A stop between making the kernels' key and marking it left an all-scopes key no later start revoked."""
    writes: list[list] = []
    batch = services.store.batch

    async def recorded(ops):
        writes.append(list(ops))
        return await batch(ops)

    services.store.batch = recorded
    try:
        await services.api_keys.mint_kernel_key("me")
    finally:
        services.store.batch = batch
    made = [op for ops in writes for op in ops if type(op).__name__ == "Insert" and op.table == "api_keys"]
    assert len(made) == 1 and made[0].doc["managed"] == "kernel" and made[0].doc["kernel_owner"] == "me"
    assert not [op for ops in writes for op in ops if type(op).__name__ == "Update" and op.table == "api_keys"]


# -- remembered key checks --------------------------------------------------------------------------
def count_key_lookups(services) -> list[int]:
    """Counts the store's api_keys queries (the lookups ``authenticate`` makes by the key's hash)."""
    seen = [0]
    query = services.store.query

    async def counted(table, *args, **kwargs):
        if table == "api_keys":
            seen[0] += 1
        return await query(table, *args, **kwargs)

    services.store.query = counted
    return seen


async def make_key(services, **extra):
    return await services.api_keys.create(name="agent", scopes=["sink_items:write"], workspace_id=None,
                                          expires_at=extra.get("expires_at"))


async def test_a_valid_key_is_looked_up_once_and_refused_as_soon_as_it_is_revoked(services):
    made = await make_key(services)
    lookups = count_key_lookups(services)
    first = await services.api_keys.authenticate(made["key"])
    for _ in range(5):
        assert await services.api_keys.authenticate(made["key"]) == first
    assert lookups[0] == 1 and first.key_id == made["id"] and first.scopes == ("sink_items:write",)
    await services.api_keys.revoke(made["id"])
    with pytest.raises(Unauthorized):
        await services.api_keys.authenticate(made["key"])
    with pytest.raises(Unauthorized):
        await services.api_keys.authenticate("osk_" + "x" * 40)  # unknown keys are never remembered
    with pytest.raises(Unauthorized):
        await services.api_keys.authenticate("osk_" + "x" * 40)
    assert lookups[0] == 4


async def test_a_revocation_relayed_from_another_server_forgets_the_check(services):
    made = await make_key(services)
    await services.api_keys.authenticate(made["key"])
    # Another server deleted the key and its revocation arrives through the relay.
    await services.store.delete("api_keys", made["id"])
    revocation = {"id": made["id"], "workspace_id": made["workspace_id"]}
    services.events.emit(KEY_REVOKED, made["workspace_id"], revocation, remote=True)
    with pytest.raises(Unauthorized):
        await services.api_keys.authenticate(made["key"])


async def test_a_revocation_while_the_store_answers_leaves_nothing_remembered(services):
    made = await make_key(services)
    query = services.store.query

    async def revoked_meanwhile(table, *args, **kwargs):
        page = await query(table, *args, **kwargs)
        if table == "api_keys":  # the answer is from before the revocation that arrives now
            services.events.emit(KEY_REVOKED, made["workspace_id"], {"id": made["id"]}, remote=True)
        return page

    services.store.query = revoked_meanwhile
    await services.api_keys.authenticate(made["key"])
    services.store.query = query
    lookups = count_key_lookups(services)
    await services.api_keys.authenticate(made["key"])
    assert lookups[0] == 1  # asked the store again: the first answer was not kept


async def test_a_lost_revocation_stops_the_key_after_the_bound(services):
    services.api_keys.cache_seconds = 0.2
    made = await make_key(services)
    await services.api_keys.authenticate(made["key"])
    await services.store.delete("api_keys", made["id"])  # no event: as when a relayed one is lost
    await services.api_keys.authenticate(made["key"])  # still trusted within the bound
    await asyncio.sleep(0.3)
    with pytest.raises(Unauthorized):
        await services.api_keys.authenticate(made["key"])


async def test_a_remembered_key_still_expires_on_time(services):
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=0.6)
    made = await make_key(services, expires_at=ids.format_time(soon.timestamp()))
    lookups = count_key_lookups(services)
    await services.api_keys.authenticate(made["key"])
    await asyncio.sleep(0.7)
    with pytest.raises(Unauthorized, match="expired"):
        await services.api_keys.authenticate(made["key"])
    assert lookups[0] == 1


async def test_last_used_at_is_written_once_per_period_with_checks_remembered(services):
    made = await make_key(services)
    for _ in range(3):
        await services.api_keys.authenticate(made["key"])
    await services.api_keys.drain()
    first = (await services.api_keys.get(made["id"]))["last_used_at"]
    assert first is not None
    for _ in range(3):
        await services.api_keys.authenticate(made["key"])
    await services.api_keys.drain()
    assert (await services.api_keys.get(made["id"]))["last_used_at"] == first
