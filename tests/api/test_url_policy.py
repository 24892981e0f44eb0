"""The URL policy on a server that blocks loopback: no spelling of a blocked address reaches it.

Each URL names the receiver's own port on loopback: before the policy looked through IPv6 forms
and the unspecified address, the first ones reached it (a job's request, an agent's callback).
"""

from __future__ import annotations

import asyncio

import pytest

from .test_callbacks import ask, deliveries, resolve  # noqa: F401  (ask is a fixture)

HOSTS = ["[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "0.0.0.0", "[::]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]"]


@pytest.fixture
def opensink_config():
    return {"fsync": "never", "callback_timeout": 2.0,
            "callback_blocked_networks": ["169.254.0.0/16", "127.0.0.0/8", "::1/128"]}


async def finished(api, run: dict) -> dict:
    for _ in range(250):
        run = (await api("GET", f"/v1/background-job-runs/{run['id']}")).body
        if run["status"] != "running":
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run still going: {run}")


async def test_no_form_of_a_blocked_address_reaches_it_from_a_job(api, receiver):
    for host in HOSTS:
        job = (await api("POST", "/v1/background-jobs", {
            "name": host, "interval_minutes": 1440, "enabled": False,
            "url": f"http://{host}:{receiver.port}/meta", "headers": {"Metadata-Flavor": "Google"}})).body
        run = (await api("POST", f"/v1/background-jobs/{job['id']}/trigger")).body
        run = await finished(api, run)
        assert run["status"] == "failed" and "the callback URL policy blocks" in run["error_message"], (host, run)
    assert receiver.calls == []


async def test_no_form_of_a_blocked_address_reaches_it_from_a_callback(api, ask, receiver):  # noqa: F811
    for host in HOSTS:
        agent, session, request = await ask({"url": f"http://{host}:{receiver.port}/run",
                                             "headers": {"X-aws-ec2-metadata-token": "t"}})
        await resolve(api, request)
        for _ in range(250):
            current = (await api("GET", f"/v1/agent-sessions/{session['id']}")).body
            if current["status"] == "failed":
                break
            await asyncio.sleep(0.02)
        assert "the callback URL policy blocks" in (current["error_message"] or ""), (host, current)
        (record,) = await deliveries(api, session["id"])
        assert record["status_code"] is None
    assert receiver.calls == []
