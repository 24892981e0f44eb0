"""Callback timeout and a custom URL policy (their own server configuration)."""

from __future__ import annotations

import pytest

from .test_callbacks import assert_failed, ask, deliveries, resolve  # noqa: F401  (ask is a fixture)


@pytest.fixture
def opensink_config():
    return {"fsync": "never", "callback_timeout": 0.5, "callback_blocked_networks": ["127.0.0.2/32"]}


async def test_timeout_fails_the_session(api, ask, receiver):  # noqa: F811
    receiver.delay = 2.0
    agent, session, request = await ask({"url": f"http://localhost:{receiver.port}/slow"})
    await resolve(api, request)
    record = await assert_failed(api, agent, session, "timed out after 0.5 s")
    assert record["status_code"] is None and 400 < record["duration_ms"] < 1500
    (call,) = receiver.calls
    assert call.headers["Host"] == f"localhost:{receiver.port}"  # sent to the checked address, named as given


async def test_configured_blocked_network(api, ask, receiver):  # noqa: F811
    agent, session, request = await ask({"url": f"http://127.0.0.2:{receiver.port}/run"})
    await resolve(api, request)
    await assert_failed(api, agent, session, "127.0.0.2, which the callback URL policy blocks")
    assert receiver.calls == []  # refused before connecting
