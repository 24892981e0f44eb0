"""Background jobs' rules: schedules, targets and secrets (the firing itself is in tests/api/test_jobs.py)."""

from __future__ import annotations

import pytest

from jupyter_opensink.errors import Invalid, NotFound

EVERY_SECOND = "* * * * * *"
TARGET = {"url": "http://127.0.0.1:9/x"}
FIELDS = ("interval_minutes", "start_minute", "cron", "timezone", "url", "method", "headers", "body", "agent_id")


def job(**fields):
    """A create body with every field the HTTP layer fills (None when not sent)."""
    return {"name": "j", "enabled": True, **dict.fromkeys(FIELDS), **fields}


@pytest.mark.parametrize("fields, expected", [
    ({**TARGET}, "exactly one schedule"),
    ({**TARGET, "cron": EVERY_SECOND, "interval_minutes": 5}, "exactly one schedule"),
    ({**TARGET, "interval_minutes": 7}, "interval_minutes must divide 1440"),
    ({**TARGET, "interval_minutes": 0}, "interval_minutes must divide 1440"),
    ({**TARGET, "interval_minutes": 15, "start_minute": 15}, "start_minute must be from 0 to 14"),
    ({**TARGET, "interval_minutes": 15, "start_minute": -1}, "start_minute must be from 0 to 14"),
    ({**TARGET, "interval_minutes": 15, "timezone": "Europe/Paris"}, "timezone goes with cron"),
    ({**TARGET, "cron": "* * * *"}, "cron: give 5 fields"),
    ({**TARGET, "cron": "* * * * * * *"}, "cron: give 5 fields"),
    ({**TARGET, "cron": "61 * * * *"}, "cron: Bad minute"),
    ({**TARGET, "cron": "*/0 * * * *"}, "cron:"),
    ({**TARGET, "cron": "* * * * *", "timezone": "Mars/Olympus"}, "not an IANA timezone"),
    ({**TARGET, "cron": "* * * * *", "start_minute": 3}, "start_minute goes with interval_minutes"),
    ({"cron": "* * * * *"}, "exactly one target"),
    ({"cron": "* * * * *", "url": "http://a.example", "agent_id": "x"}, "exactly one target"),
])
async def test_invalid_schedules_and_targets(services, workspace_id, fields, expected):
    with pytest.raises(Invalid) as refused:
        await services.jobs.create(workspace_id, job(**fields))
    assert expected in refused.value.message


async def test_an_agent_target_needs_an_endpoint(services, workspace_id):
    agent = await services.agents.create(workspace_id, {"name": "no endpoint", "description": None,
                                                        "execution_endpoint": None})
    with pytest.raises(Invalid, match="has no execution_endpoint"):
        await services.jobs.create(workspace_id, job(cron="* * * * *", agent_id=agent["id"]))
    with pytest.raises(NotFound):
        await services.jobs.create(workspace_id, job(cron="* * * * *", agent_id="missing"))


async def test_a_job_shows_its_signing_secret_on_create_and_rotate_only(services, workspace_id):
    created = await services.jobs.create(workspace_id, job(interval_minutes=60, **TARGET))
    secret = created["signing_secret"]
    assert secret.startswith("whsec_")
    assert "signing_secret" not in await services.jobs.get(workspace_id, created["id"])
    listed = await services.jobs.list(workspace_id, limit=10, after=None, order="desc")
    assert all("signing_secret" not in j for j in listed.items)
    rotated = await services.jobs.rotate_secret(workspace_id, created["id"])
    assert rotated["signing_secret"] not in (None, secret)
    assert (await services.store.get("background_jobs", created["id"]))["signing_secret"] == rotated["signing_secret"]
