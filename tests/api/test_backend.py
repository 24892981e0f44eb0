"""The store the server runs on is the one the settings ask for."""

from __future__ import annotations


async def test_the_configured_backend_is_used(opensink_app, store_backend, api):
    store = opensink_app.store
    if store_backend.get("database_url"):
        assert type(store).__name__ == "PgStore"
        assert (await api("POST", "/v1/workspaces", {"name": "on postgres"})).status == 201
        found = await store.query("workspaces", {}, limit=100)
        assert "on postgres" in [w["name"] for w in found.items]
    else:
        assert type(store).__name__ == "TinyStore"
