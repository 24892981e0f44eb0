"""Background jobs fired for real by aiocron (seconds-field schedules) against a live receiver."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
import tornado.httpserver
import tornado.web
from tornado.testing import bind_unused_port

from jupyter_opensink import ids

EVERY_SECOND = "* * * * * *"


@pytest.fixture
def started(jp_serverapp, jp_asyncio_loop):
    """The extension's start hook has run: the scheduler is live."""
    jp_asyncio_loop.run_until_complete(jp_serverapp._post_start())


@pytest.fixture
def job(api):
    async def create(**fields) -> dict:
        reply = await api("POST", "/v1/background-jobs", {"name": "job", **fields})
        assert reply.status == 201, reply.body
        return reply.body

    return create


async def runs_of(api, job_id: str) -> list[dict]:
    return (await api("GET", "/v1/background-job-runs", params={"job_id": job_id, "$order": "asc",
                                                                 "$limit": "500"})).body["items"]


@pytest.mark.parametrize("body, expected", [
    ({"url": "http://127.0.0.1:9/x", "interval_minutes": 7}, "interval_minutes must divide 1440"),  # a rule: 400
    ({"cron": "* * * * *", "url": "file:///etc/passwd"}, "url:"),  # the body's model
    ({"cron": "* * * * *", "url": "http://a.example", "method": "TRACE"}, "method:"),
    ({"url": "http://127.0.0.1:9/x", "interval_minutes": "5"}, "interval_minutes:"),
])
async def test_invalid_jobs_are_400(api, body, expected):
    """The rules themselves are in tests/services/test_jobs.py; here, that they reach the caller as 400s."""
    reply = await api("POST", "/v1/background-jobs", {"name": "j", **body})
    assert reply.status == 400 and expected in reply.error, reply.body


async def test_an_unknown_agent_target_is_404(api):
    assert (await api("POST", "/v1/background-jobs",
                      {"name": "j", "cron": "* * * * *", "agent_id": "missing"})).status == 404


def expected_interval_run(now: datetime, interval: int, start: int) -> datetime:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = (now - midnight).total_seconds() / 60
    k = int((minutes - start) // interval) + 1
    return midnight + timedelta(minutes=start + k * interval)


async def test_interval_next_run_at(job):
    for interval, start in ((90, 30), (15, 5), (1440, 600), (1, 0)):
        now = datetime.now(timezone.utc)
        created = await job(interval_minutes=interval, start_minute=start, url="http://127.0.0.1:9/x",
                            enabled=True)
        expected = expected_interval_run(now, interval, start)
        assert ids.parse_time(created["next_run_at"]) == expected, (interval, start, created["next_run_at"])
        assert created["timezone"] is None and created["method"] == "POST"
        assert (created["total_runs"], created["successful_runs"], created["failed_runs"]) == (0, 0, 0)


async def test_cron_timezone(job, api):
    created = await job(cron="0 9 * * *", timezone="Asia/Tokyo", url="http://127.0.0.1:9/x")
    next_run = ids.parse_time(created["next_run_at"])
    assert (next_run.hour, next_run.minute) == (0, 0)  # 09:00 in Tokyo is midnight UTC
    disabled = await api("PATCH", f"/v1/background-jobs/{created['id']}", {"enabled": False})
    assert disabled.body["next_run_at"] is None


async def test_fires_every_second_and_records_runs(api, job, receiver, started, opensink_app):
    seen = []
    unsubscribe = opensink_app.events.subscribe(lambda e: seen.append(e.type))
    created = await job(cron=EVERY_SECOND, url=receiver.url("/tick"), body={"hello": "world"},
                        headers={"X-Job": "1"})
    calls = await receiver.wait_for(2, timeout=5)
    unsubscribe()
    assert calls[0].json == {"hello": "world"} and calls[0].headers["X-Job"] == "1"
    assert "Webhook-Signature" in calls[0].headers and "X-Opensink-Secret" not in calls[0].headers
    await asyncio.sleep(0.2)
    runs = [r for r in await runs_of(api, created["id"]) if r["status"] != "running"]
    assert runs and all(r["status"] == "success" and r["trigger"] == "schedule" for r in runs)
    assert runs[0]["response_status"] == 200 and runs[0]["duration_ms"] >= 0
    assert runs[0]["scheduled_for"].endswith(".000Z")
    current = (await api("GET", f"/v1/background-jobs/{created['id']}")).body
    assert current["successful_runs"] >= len(runs) and current["last_run_at"] is not None
    assert "job.run.started" in seen and "job.run.finished" in seen


async def test_disable_enable_reschedule_and_delete(api, job, receiver, started):
    created = await job(cron=EVERY_SECOND, url=receiver.url())
    await receiver.wait_for(1, timeout=5)
    await api("PATCH", f"/v1/background-jobs/{created['id']}", {"enabled": False})
    count = len(receiver.calls)
    await asyncio.sleep(1.5)
    assert len(receiver.calls) == count  # disabling stops firing at once
    every_two = await api("PATCH", f"/v1/background-jobs/{created['id']}", {"enabled": True,
                                                                            "cron": "*/2 * * * * *"})
    assert ids.parse_time(every_two.body["next_run_at"]).second % 2 == 0
    await receiver.wait_for(count + 2, timeout=6)
    assert all(int(round(c.at)) % 2 == 0 for c in receiver.calls[count:])
    await api("DELETE", f"/v1/background-jobs/{created['id']}")
    count = len(receiver.calls)
    await asyncio.sleep(2.5)
    assert len(receiver.calls) == count  # deleting stops it at once
    assert (await api("GET", f"/v1/background-jobs/{created['id']}")).status == 404
    assert await runs_of(api, created["id"]) == []


async def test_a_slow_run_is_not_overlapped(api, job, receiver, started):
    receiver.delay = 4.5  # longer than the whole window below, wherever in a second the job starts
    created = await job(cron=EVERY_SECOND, url=receiver.url())
    await asyncio.sleep(3.2)
    await api("PATCH", f"/v1/background-jobs/{created['id']}", {"enabled": False})
    assert len(receiver.calls) == 1  # while the first run went on, nothing else was sent
    await asyncio.sleep(0.5)
    statuses = [r["status"] for r in await runs_of(api, created["id"])]
    assert statuses[0] in ("running", "success") and statuses.count("skipped") >= 1, statuses
    skipped = [r for r in await runs_of(api, created["id"]) if r["status"] == "skipped"][0]
    assert skipped["error_message"] == "the previous run was still going"


async def test_manual_trigger_and_failure(api, job, receiver):
    receiver.status = 503
    created = await job(interval_minutes=1440, url=receiver.url(), method="PUT", enabled=False)
    reply = await api("POST", f"/v1/background-jobs/{created['id']}/trigger")
    assert reply.status == 201 and reply.body["status"] == "running" and reply.body["trigger"] == "manual"
    (call,) = await receiver.wait_for(1)
    assert call.method == "PUT"
    for _ in range(100):
        run = (await api("GET", f"/v1/background-job-runs/{reply.body['id']}")).body
        if run["status"] != "running":
            break
        await asyncio.sleep(0.02)
    assert run["status"] == "failed" and run["response_status"] == 503 and "503" in run["error_message"]
    assert run["finished_at"] >= run["started_at"]
    current = (await api("GET", f"/v1/background-jobs/{created['id']}")).body
    assert (current["total_runs"], current["failed_runs"], current["successful_runs"]) == (1, 1, 0)


async def test_agent_target_is_a_fresh_run(api, job, receiver):
    agent = (await api("POST", "/v1/agents", {"name": "a", "execution_endpoint": {
        "url": receiver.url("/agent"), "body": {"kind": "nightly"}}})).body
    created = await job(interval_minutes=60, agent_id=agent["id"])
    await api("POST", f"/v1/background-jobs/{created['id']}/trigger")
    (call,) = await receiver.wait_for(1)
    assert call.json == {"kind": "nightly"}
    assert "X-Opensink-Secret" in call.headers and "Webhook-Signature" in call.headers
    assert "X-Opensink-Session-Id" not in call.headers and "X-Opensink-Request-Id" not in call.headers
    await asyncio.sleep(0.2)
    deliveries = (await api("GET", "/v1/execution-deliveries", params={"agent_id": agent["id"]})).body["items"]
    assert len(deliveries) == 1 and deliveries[0]["trigger"] == "job" and deliveries[0]["session_id"] is None


async def test_nothing_fires_after_stop(api, job, receiver, started, opensink_app):
    await job(cron=EVERY_SECOND, url=receiver.url())
    await receiver.wait_for(1, timeout=5)
    await opensink_app.stop_extension()
    count = len(receiver.calls)
    await asyncio.sleep(1.5)
    assert len(receiver.calls) == count


async def test_runs_recorded_at_the_same_moment_are_all_counted(api, opensink_app):
    from jupyter_opensink.store import Insert

    reply = await api("POST", "/v1/background-jobs", {"name": "busy", "cron": "0 0 1 1 *",
                                                      "url": "http://127.0.0.1:9/never"})
    job = reply.body
    jobs = opensink_app.services.jobs
    run = {"job_id": job["id"], "workspace_id": job["workspace_id"], "status": "skipped"}
    await asyncio.gather(*(jobs._record(job["id"], Insert("background_job_runs", run), {"skipped_runs": 1})
                           for _ in range(10)))
    counted = (await api("GET", f"/v1/background-jobs/{job['id']}")).body
    assert counted["total_runs"] == 10 and counted["skipped_runs"] == 10


async def test_a_job_signs_with_its_own_secret_never_an_agents(api, job, receiver, make_key):
    """A key that may only write jobs chooses the body: the server's signature on it must not pass for a
    callback to an agent (or be made with the workspace's secret)."""
    from .test_callbacks import default_workspace, verify_signature

    agent = (await api("POST", "/v1/agents", {"name": "a", "execution_endpoint": {"url": receiver.url("/a")}})).body
    key = await make_key(scopes=["background_jobs:write"])
    forged = {"session_id": "fake", "request_id": "fake"}
    created = await api("POST", "/v1/background-jobs", {
        "name": "forge", "interval_minutes": 1440, "enabled": False, "url": receiver.url("/j"), "body": forged},
        key=key)
    assert created.status == 201 and created.body["signing_secret"].startswith("whsec_")
    secret = created.body["signing_secret"]
    assert "signing_secret" not in (await api("GET", f"/v1/background-jobs/{created.body['id']}")).body
    assert all("signing_secret" not in j for j in (await api("GET", "/v1/background-jobs")).body["items"])
    await api("POST", f"/v1/background-jobs/{created.body['id']}/trigger", key=key)
    (call,) = await receiver.wait_for(1)
    assert call.json == forged and verify_signature(secret, call.headers, call.body)
    workspace = await default_workspace(api)
    for other in (agent["execution_secret"], workspace["execution_secret"]):
        assert not verify_signature(other, call.headers, call.body)
    assert "X-Opensink-Secret" not in call.headers
    rotated = await api("POST", f"/v1/background-jobs/{created.body['id']}/rotate-secret", key=key)
    assert rotated.status == 200 and rotated.body["signing_secret"] not in (secret, None)
    await api("POST", f"/v1/background-jobs/{created.body['id']}/trigger", key=key)
    calls = await receiver.wait_for(2)
    assert verify_signature(rotated.body["signing_secret"], calls[1].headers, calls[1].body)
    assert not verify_signature(secret, calls[1].headers, calls[1].body)
    reader = await make_key(scopes=["background_jobs:read"])
    refused = await api("POST", f"/v1/background-jobs/{created.body['id']}/rotate-secret", key=reader)
    assert refused.status == 403


class _Gate(tornado.web.RequestHandler):
    """Holds each request until ``expected`` are in flight at once (or the hold ends), then answers."""

    def initialize(self, gate: dict) -> None:
        self.gate = gate

    async def post(self, _job: str) -> None:
        gate = self.gate
        gate["in_flight"] += 1
        gate["most"] = max(gate["most"], gate["in_flight"])
        if gate["in_flight"] >= gate["expected"]:
            gate["all_in"].set()
        try:
            await asyncio.wait_for(gate["all_in"].wait(), 8)
        except asyncio.TimeoutError:
            pass
        gate["in_flight"] -= 1
        self.finish("ok")


async def test_the_requests_of_jobs_firing_together_are_all_in_flight_at_once(api, job, started):
    """More jobs than the outbound pool once had connections (24): every request is sent without waiting
    for another's reply. The receiver answers none until all are in."""
    count = 30
    gate = {"expected": count, "in_flight": 0, "most": 0, "all_in": asyncio.Event()}
    sock, port = bind_unused_port()
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/job/(.*)", _Gate, {"gate": gate})]))
    server.add_sockets([sock])
    try:
        created = [await job(cron=EVERY_SECOND, url=f"http://127.0.0.1:{port}/job/{i}") for i in range(count)]
        try:
            await asyncio.wait_for(gate["all_in"].wait(), 30)
        finally:
            for each in created:
                await api("PATCH", f"/v1/background-jobs/{each['id']}", {"enabled": False})
        assert gate["most"] == count
    finally:
        server.stop()
        await server.close_all_connections()
