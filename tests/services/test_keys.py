"""API keys' rules on the services."""

from __future__ import annotations


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
