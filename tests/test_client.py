"""The Python client against real servers: every namespace, paging, errors, events, waiting."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time

import httpx
import pytest

from jupyter_opensink.client import (AsyncClient, BadRequest, Client, Conflict, Forbidden, NotFound,
                                     Unauthorized)
from jupyter_opensink.client.reconnect import Backoff, Reconnect

from .servers import free_port, start_server

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


#: One worker runs the whole module (with ``--dist loadgroup``), so its server process starts once, not once
#: per worker.
pytestmark = pytest.mark.xdist_group("client")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("client")
    running = start_server(base / "work", base / "db", "--OpenSinkApp.fsync=never",
                           "--OpenSinkApp.event_keepalive_seconds=0.5")
    with running.client() as admin:
        key = admin.post("/api-keys", json={"name": "client tests"}).json()["key"]
    running.key = key
    yield running
    running.stop()


@pytest.fixture
def client(server):
    with Client(server.url, server.key) as c:
        yield c


def test_namespaces_round_trip(client, server):
    sink = client.sinks.create(name="news")
    assert client.sinks.get(sink["id"]) == sink
    assert client.sinks.update(sink["id"], color="red")["color"] == "red"
    item = client.sink_items.create(sink_id=sink["id"], title="hello", fields={"n": 1})
    assert client.sink_items.get(item["id"])["title"] == "hello"
    assert client.sink_items.update(item["id"], title="hi")["title"] == "hi"
    many = client.sink_items.many([{"sink_id": sink["id"], "title": str(i)} for i in range(3)])
    assert len(many["created"]) == 3
    assert client.sink_items.list(sink_id=sink["id"], limit=2)["trail"] is not None
    agent = client.agents.create(name="bot")
    assert client.agent_configurations.active(agent["id"])["version"] == 1
    config = client.agent_configurations.create(agent_id=agent["id"], value={"x": 1})
    assert [c["id"] for c in client.agent_configurations.variants(agent["id"])["items"]] == [config["id"]]
    session = client.agent_sessions.create(agent_id=agent["id"])
    assert client.agent_sessions.update(session["id"], state={"s": 1})["state"] == {"s": 1}
    request = client.input_requests.create(session_id=session["id"], agent_id=agent["id"], key="k", title="t",
                                           message="m", schema=SCHEMA)
    link = client.input_requests.create_link(request["id"], expires_in=600, note="for Sam")
    assert link["url"].startswith(server.url.rsplit("/opensink", 1)[0] + "/opensink/approve/")
    assert link["note"] == "for Sam" and link["status"] == "active"
    assert [x["id"] for x in client.input_requests.links(request["id"])["items"]] == [link["id"]]
    assert client.input_requests.revoke_link(request["id"], link["id"])["status"] == "revoked"
    assert client.input_requests.create_link(request["id"])["status"] == "active"  # every field has a default
    assert client.input_requests.resolve(request["id"], {"ok": True})["status"] == "resolved"
    with pytest.raises(Conflict):
        client.input_requests.create_link(request["id"])
    activity = client.activities.create(session_id=session["id"], type="message", message="note")
    assert client.activities.get(activity["id"])["source"] == "agent"
    job = client.background_jobs.create(name="j", interval_minutes=60, url="http://127.0.0.1:9/x", enabled=False)
    run = client.background_jobs.trigger(job["id"])
    assert run["trigger"] == "manual"
    assert client.background_jobs.runs(job_id=job["id"])["items"][0]["id"] == run["id"]
    assert client.execution_deliveries.list(agent_id=agent["id"])["items"] == []
    assert client.sink_items.delete(item["id"])["id"] == item["id"]
    assert client.sinks.delete(sink["id"])["id"] == sink["id"]
    assert client.agents.delete(agent["id"])["id"] == agent["id"]
    with Client(server.url, server.key) as keyed:
        with pytest.raises(Forbidden):
            keyed.api_keys.list()  # keys are for the Jupyter user
    admin = Client(server.url, server.token)  # the Jupyter token works as a credential too
    workspace = admin.workspaces.create(name="Team")
    assert admin.workspaces.rotate_secret(workspace["id"])["execution_secret"] != workspace["execution_secret"]
    new_key = admin.api_keys.create(name="x", workspace_id=workspace["id"])
    assert any(k["id"] == new_key["id"] for k in admin.api_keys.iter())
    assert admin.api_keys.delete(new_key["id"])["id"] == new_key["id"]
    admin.close()


def test_iter_pages_through_a_thousand_items(client):
    sink = client.sinks.create(name="big")
    for start in range(0, 1000, 500):
        client.sink_items.many([{"sink_id": sink["id"], "title": str(i)} for i in range(start, start + 500)])
    titles = [item["title"] for item in client.sink_items.iter(sink_id=sink["id"], limit=77, order="asc")]
    assert titles == [str(i) for i in range(1000)]


def test_errors_carry_status_and_message(client, server):
    with pytest.raises(NotFound) as info:
        client.sinks.get("missing")
    assert info.value.status_code == 404 and info.value.message == "sink missing not found"
    with pytest.raises(BadRequest, match="name is required"):
        client.sinks.create()
    agent = client.agents.create(name="a")
    session = client.agent_sessions.create(agent_id=agent["id"])
    request = client.input_requests.create(session_id=session["id"], agent_id=agent["id"], key="k", title="t",
                                           message="m", schema=SCHEMA)
    client.input_requests.resolve(request["id"], {"ok": False})
    with pytest.raises(Conflict):
        client.input_requests.resolve(request["id"], {"ok": False})
    with pytest.raises(Unauthorized):
        Client(server.url, "osk_wrong").sinks.list()
    with pytest.raises(ValueError, match="OPENSINK_URL"):
        env = {k: os.environ.pop(k) for k in ("OPENSINK_URL", "OPENSINK_API_KEY") if k in os.environ}
        try:
            Client()
        finally:
            os.environ.update(env)


def test_client_reads_the_environment(server, monkeypatch):
    monkeypatch.setenv("OPENSINK_URL", server.url)
    monkeypatch.setenv("OPENSINK_API_KEY", server.key)
    with Client() as c:
        assert "items" in c.sinks.list()


def test_events_resume_after_a_disconnect_without_loss(client):
    sink = client.sinks.create(name="events")
    seen: list = []
    stream = client.events(types="item.created")
    client.sink_items.create(sink_id=sink["id"], title="first")
    for event in stream:
        seen.append(event)
        break
    stream.close()  # disconnect, remembering the last id
    last_id = seen[0].id
    for i in range(5):  # written while nobody listens
        client.sink_items.create(sink_id=sink["id"], title=f"missed {i}")
    resumed = client.events(types="item.created", last_event_id=last_id)
    for event in resumed:
        seen.append(event)
        if len(seen) == 6:
            break
    resumed.close()
    assert [e.data["title"] for e in seen] == ["first"] + [f"missed {i}" for i in range(5)]
    assert all(e.type == "item.created" for e in seen)
    old = client.events(types="item.created", last_event_id="unknown-boot:1")
    first = next(iter(old))
    old.close()
    assert first.type == "reset"


def test_wait_for_resolution(client, server):
    agent = client.agents.create(name="waiter")
    session = client.agent_sessions.create(agent_id=agent["id"])
    request = client.input_requests.create(session_id=session["id"], agent_id=agent["id"], key="k", title="t",
                                           message="m", schema=SCHEMA)

    def answer_later() -> None:
        time.sleep(0.5)
        with Client(server.url, server.key) as other:
            other.input_requests.resolve(request["id"], {"ok": True})

    threading.Thread(target=answer_later).start()
    started = time.monotonic()
    resolved = client.wait_for_resolution(request["id"], timeout=10)
    assert resolved["response"] == {"ok": True} and time.monotonic() - started < 5
    assert client.wait_for_resolution(request["id"], timeout=1)["status"] == "resolved"  # already answered
    pending = client.input_requests.create(session_id=session["id"], agent_id=agent["id"], key="k2", title="t",
                                           message="m", schema=SCHEMA)
    with pytest.raises(TimeoutError):
        client.wait_for_resolution(pending["id"], timeout=1)


def test_decisions_with_a_proposal_and_context(client):
    agent = client.agents.create(name="decider")
    session = client.agent_sessions.create(agent_id=agent["id"])
    schema = {"type": "object", "properties": {"size": {"type": "integer"}}}
    request = client.input_requests.create(
        session_id=session["id"], agent_id=agent["id"], key="k", title="Buy?", message="m", schema=schema,
        defaults={"size": 10}, decisions=["approve", "reject"],
        context=[{"title": "Why", "data": {"text/plain": "momentum"}}])
    assert request["defaults"] == {"size": 10} and request["decisions"] == ["approve", "reject"]
    with pytest.raises(BadRequest) as refused:  # a decision the request does not offer
        client.input_requests.resolve(request["id"], decision="respond", comment="later")
    assert "respond is not offered" in str(refused.value)
    with pytest.raises(BadRequest) as refused:  # the violations come along, for a form to show
        client.input_requests.resolve(request["id"], {"size": "big"}, decision="approve")
    assert refused.value.body["violations"] == [{"path": "/size", "field": "size", "message": "must be a whole number"}]
    done = client.input_requests.resolve(request["id"], {"size": 5}, decision="approve", comment="half")
    assert (done["decision"], done["comment"]) == ("approve", "half")
    assert done["changes"] == [{"op": "replace", "path": "/size", "value": 5}]


def test_async_client(server):
    async def main() -> None:
        async with AsyncClient(server.url, server.key) as c:
            sink = await c.sinks.create(name="async")
            await c.sink_items.many([{"sink_id": sink["id"], "title": str(i)} for i in range(120)])
            titles = [i["title"] async for i in c.sink_items.iter(sink_id=sink["id"], limit=50, order="asc")]
            assert titles == [str(i) for i in range(120)]
            with pytest.raises(NotFound):
                await c.agents.get("missing")
            agent = await c.agents.create(name="a")
            session = await c.agent_sessions.create(agent_id=agent["id"])
            request = await c.input_requests.create(session_id=session["id"], agent_id=agent["id"], key="k",
                                                    title="t", message="m", schema=SCHEMA)
            waiter = asyncio.ensure_future(c.wait_for_resolution(request["id"], timeout=10))
            await asyncio.sleep(0.3)
            await c.input_requests.resolve(request["id"], {"ok": True})
            assert (await waiter)["status"] == "resolved"
            events = await c.events(types=["item.created"]).open()
            await c.sink_items.create(sink_id=sink["id"], title="live")
            event = await asyncio.wait_for(events.__anext__(), 5)
            assert event.type == "item.created" and event.data["title"] == "live"
            await events.aclose()

    asyncio.run(main())


def test_events_respect_scopes_and_workspaces(server):
    with server.client() as admin:
        reader = admin.post("/api-keys", json={"name": "r", "scopes": ["agents:read"]}).json()["key"]
        team = admin.post("/workspaces", json={"name": "other"}).json()
        outsider = admin.post("/api-keys", json={"name": "o", "workspace_id": team["id"]}).json()["key"]
    with Client(server.url, reader) as limited, Client(server.url, server.key) as writer, \
            httpx.stream("GET", server.api + "/events", headers={"Authorization": f"Bearer {outsider}"},
                         timeout=10) as other:
        got_limited = limited.events()
        sink = writer.sinks.create(name="scoped")
        writer.sink_items.create(sink_id=sink["id"], title="secret")
        agent = writer.agents.create(name="visible")
        first = next(got_limited)
        assert first.type == "agent.created" and first.data["id"] == agent["id"]  # no sink or item events
        got_limited.close()
        lines, deadline = [], time.monotonic() + 1.5
        for line in other.iter_lines():  # keep-alive comments every 0.5 s end each wait
            lines.append(line)
            if time.monotonic() > deadline:
                break
        assert lines and all(line == "" or line.startswith(":") for line in lines), lines


def test_states_and_discovery(client):
    from jupyter_opensink.client import PreconditionFailed

    made = client.states.put("memory", "plan", {"step": 1}, only_new=True)
    assert made["version"] == 1
    with pytest.raises(PreconditionFailed):
        client.states.put("memory", "plan", {"step": 9}, only_new=True)
    with pytest.raises(PreconditionFailed) as stale:
        client.states.put("memory", "plan", {"step": 2}, if_match=5)
    assert stale.value.status_code == 412
    assert client.states.put("memory", "plan", {"step": 2}, if_match=1)["version"] == 2
    assert client.states.get("memory", "plan")["value"] == {"step": 2}
    client.states.put("memory", "other", "x")
    assert [s["key"] for s in client.states.iter("memory", prefix="pl")] == ["plan"]
    assert client.states.delete("memory", "plan", if_match=2)["key"] == "plan"
    found = client.discovery()
    assert found["caller"]["type"] == "api_key" and found["access"]["states"]["write"] is True
    assert found["counts"]["states"] == 1


def test_webhooks_namespace(client, server):
    sink = client.sinks.create(name="hooked")
    made = client.webhooks.create(path="client-hook", secret="a-secret-of-enough-length",
                                  action={"type": "create_item", "sink_id": sink["id"], "title": "/t"})
    reply = httpx.post(f"{server.url}/hooks/client-hook", json={"t": "from outside"},
                       headers={"X-OpenSink-Webhook-Secret": "a-secret-of-enough-length"})
    assert reply.status_code == 201 and reply.json()["item"]["title"] == "from outside"
    (invocation,) = client.webhooks.invocations(made["id"])["items"]
    assert invocation["outcome"] == "item_created"
    assert client.webhooks.update(made["id"], path="renamed-hook")["path"] == "renamed-hook"
    client.webhooks.delete(made["id"])
    assert [h["id"] for h in client.webhooks.iter()] == []


# -- reconnecting ---------------------------------------------------------------------------------------------
def test_backoff_doubles_from_a_fifth_of_a_second_to_five_seconds_jittered_down_by_up_to_half():
    highest = Backoff(rng=lambda: 0.0)
    assert [round(highest.next(), 3) for _ in range(8)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    lowest = Backoff(rng=lambda: 1.0)
    assert [round(lowest.next(), 3) for _ in range(7)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.5, 2.5]
    jittered = Backoff()
    for bound in [0.2, 0.4, 0.8, 1.6, 3.2, *[5.0] * 50]:
        assert bound / 2 <= jittered.next() <= bound
    jittered.reset()  # a good event: start over from the shortest pause
    assert 0.1 <= jittered.next() <= 0.2


def test_a_pause_never_outlasts_the_deadline():
    reconnect = Reconnect(timeout=0.3, backoff=Backoff(first=10.0, longest=10.0, rng=lambda: 0.0))
    assert 0.2 < reconnect.pause() <= 0.3 and not reconnect.expired()
    time.sleep(0.3)
    assert reconnect.pause() == 0.0 and reconnect.expired()
    assert Reconnect().remaining() is None and not Reconnect().expired()


def test_a_server_that_is_not_there_is_reported_at_once_not_waited_on():
    nowhere = f"http://127.0.0.1:{free_port()}/opensink"
    started = time.monotonic()
    with Client(nowhere, "osk_x") as client:
        with pytest.raises(httpx.ConnectError):
            client.wait_for_resolution("any", timeout=30)
        with pytest.raises(httpx.ConnectError):
            client.events()

    async def main() -> None:
        async with AsyncClient(nowhere, "osk_x") as client:
            with pytest.raises(httpx.ConnectError):
                await client.wait_for_resolution("any", timeout=30)
            with pytest.raises(httpx.ConnectError):
                await client.events().open()

    asyncio.run(main())
    assert time.monotonic() - started < 5


class Restartable:
    """A server on a fixed port and database, stopped and started again under open connections."""

    def __init__(self, base):
        self.args = (base / "work", base / "db", "--OpenSinkApp.fsync=never",
                     "--OpenSinkApp.event_keepalive_seconds=0.5")
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.server = start_server(*self.args, port=self.port, token=self.token)
        with self.server.client() as admin:
            self.key = admin.post("/api-keys", json={"name": "restarts"}).json()["key"]
        self.url = self.server.url

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server = start_server(*self.args, port=self.port, token=self.token)


@pytest.fixture
def restartable(tmp_path):
    running = Restartable(tmp_path)
    yield running
    running.stop()


@pytest.fixture
def pauses(monkeypatch):
    """Every reconnect pause taken, in order."""
    taken: list[float] = []
    original = Backoff.next

    def recorded(self: Backoff) -> float:
        taken.append(original(self))
        return taken[-1]

    monkeypatch.setattr(Backoff, "next", recorded)
    return taken


def _pending_request(client) -> dict:
    agent = client.agents.create(name="restarts")
    session = client.agent_sessions.create(agent_id=agent["id"])
    return client.input_requests.create(session_id=session["id"], agent_id=agent["id"], key="k", title="t",
                                        message="m", schema=SCHEMA)


class Looking(Client):
    """A client that tells when it has looked at an input request: its wait's stream is open by then."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.looked = threading.Event()

    def _send(self, call):
        reply = super()._send(call)
        if call.method == "GET" and call.path.startswith("/agent-session-input-requests/"):
            self.looked.set()
        return reply


@pytest.mark.system  # restarts a server process
def test_stream_and_waits_survive_a_server_restart(restartable, pauses):
    client = Client(restartable.url, restartable.key)
    request, short = _pending_request(client), _pending_request(client)
    sink = client.sinks.create(name="restarts")
    stream = client.events(types=["item.created"], read_timeout=60)
    client.sink_items.create(sink_id=sink["id"], title="before")
    assert next(stream).data["title"] == "before"
    outcomes: dict[str, object] = {}

    def wait(name: str, waiter: Looking, request_id: str, timeout: float) -> None:
        started = time.monotonic()
        try:
            outcomes[name] = waiter.wait_for_resolution(request_id, timeout=timeout)
        except Exception as error:  # noqa: BLE001 (the test looks at it)
            outcomes[name] = error
        outcomes[f"{name} took"] = time.monotonic() - started
        waiter.close()

    waiters = [Looking(restartable.url, restartable.key) for _ in range(2)]
    waits = [threading.Thread(target=wait, args=("answered", waiters[0], request["id"], 120)),
             threading.Thread(target=wait, args=("timed", waiters[1], short["id"], 4))]
    for thread in waits:
        thread.start()
    assert all(waiter.looked.wait(30) for waiter in waiters)  # both waits have their stream open

    restartable.stop()
    waits[1].join(30)  # while the server is down, the wait with a timeout ends at its timeout
    assert isinstance(outcomes["timed"], TimeoutError) and 4 <= outcomes["timed took"] < 5.5, outcomes
    restartable.start()

    first = next(stream)  # reconnected: the old server's ids are gone, so the stream starts with a reset
    assert first.type == "reset"
    client.sink_items.create(sink_id=sink["id"], title="after")
    assert next(stream).data["title"] == "after"
    stream.close()
    client.input_requests.resolve(request["id"], {"ok": True})
    waits[0].join(60)
    assert outcomes["answered"]["response"] == {"ok": True}, outcomes
    client.close()
    assert pauses and all(0.1 <= p <= 5.0 for p in pauses)
    assert len(pauses) < 60, pauses  # backed off, never a tight loop while the server was down


@pytest.mark.system  # restarts a server process
def test_async_stream_and_wait_survive_a_server_restart(restartable, pauses):
    async def main() -> None:
        async with AsyncClient(restartable.url, restartable.key) as client:
            agent = await client.agents.create(name="a")
            session = await client.agent_sessions.create(agent_id=agent["id"])
            request = await client.input_requests.create(session_id=session["id"], agent_id=agent["id"],
                                                         key="k", title="t", message="m", schema=SCHEMA)
            sink = await client.sinks.create(name="async restarts")
            stream = await client.events(types=["item.created"], read_timeout=60).open()
            await client.sink_items.create(sink_id=sink["id"], title="before")
            assert (await stream.__anext__()).data["title"] == "before"
            looked = asyncio.Event()
            send = client._send

            async def watched(call):  # the wait looks at the request once its stream is open
                reply = await send(call)
                looked.set()
                return reply

            client._send = watched
            waiter = asyncio.ensure_future(client.wait_for_resolution(request["id"], timeout=120))
            await asyncio.wait_for(looked.wait(), 30)
            client._send = send
            assert not waiter.done()
            await asyncio.to_thread(restartable.stop)
            await asyncio.to_thread(restartable.start)
            assert (await stream.__anext__()).type == "reset"
            await client.sink_items.create(sink_id=sink["id"], title="after")
            assert (await stream.__anext__()).data["title"] == "after"
            await stream.aclose()
            await client.input_requests.resolve(request["id"], {"ok": True})
            assert (await asyncio.wait_for(waiter, 60))["response"] == {"ok": True}

    asyncio.run(main())
    assert pauses and all(0.1 <= p <= 5.0 for p in pauses) and len(pauses) < 60, pauses
