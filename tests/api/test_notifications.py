"""Notification channels over HTTP: who may manage them, masking, sending to a local json:// receiver, the
record of every attempt, retries, and what the request that caused a notification never waits for."""

from __future__ import annotations

import asyncio
import logging
import re
import time

import pytest

from ..servers import free_port

SCHEMA = {"type": "object", "properties": {"quantity": {"type": "integer", "title": "Quantity"}}}
SECRET = "pw-9f8e7d6c5b"
HEADER_SECRET = "hdr-1a2b3c4d5e"


def json_url(receiver, path: str = "/notify") -> str:
    """A json:// channel posting to the loopback receiver, with a password and a header that are secrets."""
    return f"json://alice:{SECRET}@127.0.0.1:{receiver.port}{path}?+X-Token={HEADER_SECRET}"


@pytest.fixture
def channel(api):
    async def make(url: str, **fields) -> dict:
        reply = await api("POST", "/v1/notification-channels", {"name": "phone", "url": url, **fields})
        assert reply.status == 201, reply.body
        return reply.body

    return make


@pytest.fixture
def ask(api):
    """``await ask(**request_fields)`` -> (agent, session, request) for an agent named "trader"."""

    async def make(agent_fields: dict | None = None, **fields) -> tuple[dict, dict, dict]:
        agent = (await api("POST", "/v1/agents", {"name": "trader", **(agent_fields or {})})).body
        session = (await api("POST", "/v1/agent-sessions", {"agent_id": agent["id"]})).body
        reply = await api("POST", "/v1/agent-session-input-requests", {
            "session_id": session["id"], "agent_id": agent["id"], "key": "trade", "title": "Buy ACME?",
            "message": "The model says buy.", "schema": SCHEMA, "defaults": {"quantity": 100}, **fields})
        assert reply.status == 201, reply.body
        return agent, session, reply.body

    return make


async def wait_deliveries(api, count: int, timeout: float = 15.0, **params) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        items = (await api("GET", "/v1/notification-deliveries", params=params)).body["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return items
        await asyncio.sleep(0.02)


async def test_only_the_jupyter_user_manages_channels(api, channel, receiver, make_key):
    created = await channel(json_url(receiver))
    key = await make_key(scopes=["all:all"])
    for method, path, body in [("GET", "/v1/notification-channels", None),
                               ("POST", "/v1/notification-channels", {"name": "x", "url": "json://127.0.0.1/"}),
                               ("GET", f"/v1/notification-channels/{created['id']}", None),
                               ("PATCH", f"/v1/notification-channels/{created['id']}", {"enabled": False}),
                               ("DELETE", f"/v1/notification-channels/{created['id']}", None),
                               ("POST", f"/v1/notification-channels/{created['id']}/test", None),
                               ("GET", "/v1/notification-deliveries", None)]:
        reply = await api(method, path, body, key=key)
        assert reply.status == 403, (method, path, reply.body)
        assert (await api(method, path, body, auth=None)).status == 401
    assert (await api("GET", f"/v1/notification-channels/{created['id']}")).body["enabled"] is True


async def test_the_url_is_masked_in_every_reply_after_create(api, channel, receiver):
    created = await channel(json_url(receiver), events=["input_request.created", "session.failed"])
    assert created["events"] == ["input_request.created", "session.failed"]
    assert created["agent_ids"] is None and created["include_link"] is True and created["enabled"] is True
    replies = [created, (await api("GET", f"/v1/notification-channels/{created['id']}")).body,
               (await api("GET", "/v1/notification-channels")).body,
               (await api("PATCH", f"/v1/notification-channels/{created['id']}", {"name": "desk"})).body]
    for reply in replies:
        text = str(reply)
        assert SECRET not in text and HEADER_SECRET not in text, text
        assert "****" in text and f"127.0.0.1:{receiver.port}" in text
    # a new URL is masked as well, and a URL Apprise cannot use is refused without being repeated
    changed = await api("PATCH", f"/v1/notification-channels/{created['id']}",
                        {"url": f"mailto://bob:other-secret-77@example.com?smtp=127.0.0.1&port={free_port()}"})
    assert changed.status == 200 and "other-secret-77" not in str(changed.body), changed.body
    for bad in ("not a url", f"nosuchservice://u:{SECRET}@x", f"mailto://u:{SECRET}@"):
        reply = await api("POST", "/v1/notification-channels", {"name": "bad", "url": bad})
        assert reply.status == 400 and reply.error.startswith("url:") and SECRET not in reply.error, reply.body
    assert (await api("POST", "/v1/notification-channels",
                      {"name": "x", "url": "json://127.0.0.1/", "events": ["nope"]})).status == 400
    deleted = await api("DELETE", f"/v1/notification-channels/{created['id']}")
    assert deleted.status == 200 and SECRET not in str(deleted.body)
    assert (await api("GET", f"/v1/notification-channels/{created['id']}")).status == 404


async def test_a_new_request_reaches_the_channel_with_a_link_that_answers_it(api, channel, ask, receiver, opensink_app,
                                                                             jp_serverapp):
    await jp_serverapp._post_start()  # the start hook sets the approval links' address
    created = await channel(json_url(receiver))
    _, _, request = await ask()
    (call,) = await receiver.wait_for(1)
    assert call.path == "/notify" and call.headers["X-Token"] == HEADER_SECRET
    message = call.json
    assert message["title"] == "trader: Buy ACME?"
    assert "trader asks: Buy ACME?" in message["message"] and "The model says buy." in message["message"]
    assert "quantity: 100" in message["message"]
    link = re.search(r"Answer here: (\S+)", message["message"]).group(1)
    assert "/opensink/approve/" in link
    (record,) = await wait_deliveries(api, 1, request_id=request["id"])
    assert record["ok"] is True and record["error"] is None and record["channel_id"] == created["id"]
    assert record["event"] == "input_request.created" and record["attempt"] == 1
    # the link is a fresh single-use approval link of this request
    links = (await api("GET", f"/v1/agent-session-input-requests/{request['id']}/links")).body["items"]
    assert len(links) == 1 and links[0]["status"] == "active" and "phone" in links[0]["note"]
    page = await api("GET", link[link.index("/opensink/"):].replace("/opensink", "/opensink", 1))
    assert page.status == 200 and "Buy ACME?" in page.body


async def test_channels_choose_agents_and_events_and_disabled_ones_stay_quiet(api, channel, ask, receiver):
    other = (await api("POST", "/v1/agents", {"name": "other"})).body
    await channel(json_url(receiver, "/only-other"), agent_ids=[other["id"]])
    await channel(json_url(receiver, "/failures"), events=["session.failed"])
    await channel(json_url(receiver, "/off"), enabled=False)
    await channel(json_url(receiver, "/all"), include_link=False)
    _, session, _ = await ask()
    await receiver.wait_for(1)
    await api("PATCH", f"/v1/agent-sessions/{session['id']}", {"status": "failed", "error_message": "boom"})
    calls = await receiver.wait_for(2)
    await asyncio.sleep(0.3)  # nothing else arrives
    assert sorted(c.path for c in receiver.calls) == ["/all", "/failures"]
    created = next(c for c in calls if c.path == "/all").json
    assert "Answer here" not in created["message"]
    failed = next(c for c in calls if c.path == "/failures").json
    assert "session failed" in failed["title"] and "boom" in failed["message"]


@pytest.mark.opensink(notification_retries=2, notification_retry_seconds=0.05)
async def test_a_failing_service_is_retried_a_bounded_number_of_times_and_every_attempt_recorded(api, channel, ask):
    port = free_port()  # nothing listens there
    created = await channel(f"json://alice:{SECRET}@127.0.0.1:{port}/x")
    _, _, request = await ask()
    records = await wait_deliveries(api, 3, channel_id=created["id"])
    await asyncio.sleep(0.3)  # no fourth attempt
    records = (await api("GET", "/v1/notification-deliveries", params={"channel_id": created["id"]})).body["items"]
    assert sorted(r["attempt"] for r in records) == [1, 2, 3]
    assert all(r["ok"] is False and r["error"] and SECRET not in r["error"] for r in records), records
    assert all(r["request_id"] == request["id"] for r in records)
    failed = (await api("GET", "/v1/notification-deliveries", params={"ok": "false"})).body["items"]
    assert len(failed) == 3


async def test_the_test_route_says_whether_the_service_took_the_message(api, channel, receiver):
    good = await channel(json_url(receiver))
    reply = await api("POST", f"/v1/notification-channels/{good['id']}/test")
    assert reply.status == 200 and reply.body == {"delivered": True, "error": None}
    (call,) = await receiver.wait_for(1)
    assert "test" in call.json["title"].lower()
    bad = await channel(f"json://127.0.0.1:{free_port()}/x")
    reply = await api("POST", f"/v1/notification-channels/{bad['id']}/test", {})
    assert reply.status == 200 and reply.body["delivered"] is False and reply.body["error"]
    records = (await api("GET", "/v1/notification-deliveries", params={"channel_id": bad["id"]})).body["items"]
    assert [r["event"] for r in records] == ["channel.test"] and records[0]["ok"] is False


@pytest.mark.opensink(callback_blocked_networks=["127.0.0.0/8"])
async def test_the_servers_url_policy_applies_to_the_address_a_channel_names(api, channel, receiver):
    created = await channel(json_url(receiver))
    reply = await api("POST", f"/v1/notification-channels/{created['id']}/test")
    assert reply.body["delivered"] is False and "URL policy" in reply.body["error"]
    assert receiver.calls == []


async def test_follow_up_settings_are_checked(api, ask, channel, receiver):
    created = await channel(json_url(receiver))
    for fields, message in [({"remind_every_seconds": 10}, "remind_every_seconds: must be at least 60"),
                            ({"escalate_after_seconds": 60}, "go together"),
                            ({"escalate_to": [created["id"]]}, "go together"),
                            ({"escalate_after_seconds": 60, "escalate_to": ["nope"]}, "nope not found"),
                            ({"on_expiry": "reject"}, "needs expires_at"),
                            ({"on_expiry": "maybe"}, "on_expiry")]:
        agent = (await api("POST", "/v1/agents", {"name": "a"})).body
        session = (await api("POST", "/v1/agent-sessions", {"agent_id": agent["id"]})).body
        reply = await api("POST", "/v1/agent-session-input-requests", {
            "session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "t", "message": "m",
            "schema": SCHEMA, **fields})
        assert reply.status == 400 and message in reply.error, (fields, reply.body)
    _, _, request = await ask(remind_every_seconds=3600, escalate_after_seconds=7200, escalate_to=[created["id"]],
                              on_expiry="reject", expires_at="2999-01-01T00:00:00Z")
    assert (request["remind_every_seconds"], request["escalate_after_seconds"], request["escalate_to"],
            request["on_expiry"]) == (3600, 7200, [created["id"]], "reject")
    _, _, plain = await ask()
    assert plain["on_expiry"] == "expire" and plain["remind_every_seconds"] is None


async def test_credentials_never_reach_events_logs_or_the_request_log(api, channel, ask, receiver, opensink_app,
                                                                      caplog):
    caplog.set_level(logging.DEBUG)
    seen: list = []
    unsubscribe = opensink_app.events.subscribe(seen.append)
    try:
        created = await channel(json_url(receiver))
        await api("PATCH", f"/v1/notification-channels/{created['id']}", {"url": json_url(receiver, "/other")})
        await api("POST", f"/v1/notification-channels/{created['id']}/test")
        bad = await channel(f"json://alice:{SECRET}@127.0.0.1:{free_port()}/x?+X-Token={HEADER_SECRET}")
        await api("POST", f"/v1/notification-channels/{bad['id']}/test")
        await ask()
        await wait_deliveries(api, 4)
    finally:
        unsubscribe()
    await opensink_app.services.request_log.flush()
    log_entries = (await api("GET", "/v1/request-logs", params={"$limit": 500})).body["items"]
    assert any("notification-channels" in e["path"] for e in log_entries)
    # Apprise's own records stop at its logger (pytest's capture attaches to every such logger; a server's
    # handlers do not): the server's log is everything else.
    assert logging.getLogger("apprise").propagate is False
    server_log = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("apprise"))
    for where, text in [("events", repr([e.data for e in seen])), ("request log", repr(log_entries)),
                        ("logs", server_log)]:
        assert SECRET not in text and HEADER_SECRET not in text, where


async def test_a_hanging_service_does_not_delay_the_request_that_causes_a_notification(api, channel, ask, receiver,
                                                                                       opensink_app):
    receiver.delay = 5.0  # accepts the message and takes 5 s to answer
    opensink_app.services.notifications.notifier.timeout = 1.0
    await channel(json_url(receiver))
    started = time.monotonic()
    await ask()
    assert time.monotonic() - started < 1.0
    records = await wait_deliveries(api, 1, timeout=10)
    assert records[0]["ok"] is False and "timed out" in records[0]["error"]


@pytest.fixture
def mailbox():
    from ..mail import start_mailbox

    box, controller = start_mailbox()
    yield box
    controller.stop()


async def test_a_mailto_channel_mails_the_request_with_its_link(api, channel, ask, mailbox, jp_serverapp):
    from ..mail import text_of

    await jp_serverapp._post_start()
    await channel(mailbox.url())
    _, _, request = await ask()
    deadline = time.monotonic() + 15
    while not mailbox.messages:
        assert time.monotonic() < deadline, "no mail arrived"
        await asyncio.sleep(0.05)
    (mail,) = mailbox.messages
    assert mail["To"] == "approver@example.com" and mail["Subject"] == "trader: Buy ACME?"
    text = text_of(mail)
    assert "trader asks: Buy ACME?" in text and "quantity: 100" in text
    link = re.search(r"Answer here: (\S+)", text).group(1)
    page = await api("GET", link[link.index("/opensink/"):])
    assert page.status == 200 and "Buy ACME?" in page.body
    (record,) = await wait_deliveries(api, 1, request_id=request["id"])
    assert record["ok"] is True
