"""Sessions' and input requests' rules on the services (the routes: tests/api/test_agents.py)."""

from __future__ import annotations

import pytest

from jupyter_opensink.errors import Invalid, NotFound
from jupyter_opensink.models.agents import SYSTEM_ACTIVITY_TYPES
from jupyter_opensink.services.access import Principal

SCHEMA = {"type": "object"}


@pytest.fixture
def flow(services, workspace_id, jp_asyncio_loop):
    """An agent with a session, and another agent."""

    async def make():
        agent = await services.agents.create(workspace_id, {"name": "a", "description": None,
                                                            "execution_endpoint": None})
        other = await services.agents.create(workspace_id, {"name": "other", "description": None,
                                                            "execution_endpoint": None})
        session = await services.sessions.create(workspace_id, {"agent_id": agent["id"], "status": "running",
                                                                "state": {}, "metadata": {}, "error_message": None})
        return agent, other, session

    return jp_asyncio_loop.run_until_complete(make())


def request(agent, session, **changes):
    return {"session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "t", "message": "m",
            "schema": SCHEMA, "expires_at": None, **changes}


@pytest.mark.parametrize("changes, error, expected", [
    ({"agent_id": "OTHER"}, Invalid, "does not own the session"),
    ({"schema": {"type": "string"}}, Invalid, "must describe an object"),
    ({"schema": {"type": 12}}, Invalid, "not a valid JSON Schema"),
    ({"session_id": "missing"}, NotFound, "not found"),
    ({"expires_at": "2020-01-01T00:00:00.000Z"}, Invalid, "expires_at must be in the future"),
])
async def test_input_request_rules(services, workspace_id, flow, changes, error, expected):
    agent, other, session = flow
    if changes.get("agent_id") == "OTHER":
        changes = {**changes, "agent_id": other["id"]}
    with pytest.raises(error) as refused:
        await services.input_requests.create(workspace_id, request(agent, session, **changes))
    assert expected in refused.value.message


def agent_key(workspace_id: str) -> Principal:
    return Principal(workspace_id=workspace_id, is_user=False, scopes=("agent_session_activities:all",),
                     key_id="k")


@pytest.mark.parametrize("services", ["tinydb"], indirect=True)  # refused before any store is asked
@pytest.mark.parametrize("kind", SYSTEM_ACTIVITY_TYPES)
async def test_system_activities_are_the_servers_own(services, workspace_id, flow, kind):
    """What an agent or a user may log (the model's own rules: tests/test_bodies.py; a session's agent only:
    tests/api/test_agents.py)."""
    _, _, session = flow
    with pytest.raises(Invalid) as refused:
        await services.activities.create(agent_key(workspace_id), {"session_id": session["id"], "type": kind})
    assert refused.value.message.startswith(f"type: {kind} activities are written by the server itself")


@pytest.mark.parametrize("status, marked", [("processing_input", True), ("running", False)])
async def test_a_session_failing_while_handling_an_answer_marks_that_delivery(services, workspace_id, flow,
                                                                              status, marked):
    agent, _, session = flow
    await services.sessions.update(workspace_id, session["id"], {"status": status})
    delivery = await services.store.insert("execution_deliveries", {
        "workspace_id": workspace_id, "agent_id": agent["id"], "session_id": session["id"], "request_id": "r",
        "trigger": "input_request", "url": "http://127.0.0.1:9/", "method": "POST", "status_code": 202,
        "error": None, "duration_ms": 1.0})
    await services.sessions.update(workspace_id, session["id"], {"status": "failed", "error_message": "KeyError: 'x'"})
    after = await services.deliveries.get(workspace_id, delivery["id"])
    assert after["error"] == ("the agent failed while handling it: KeyError: 'x'" if marked else None)
