"""A webhook's secret and an approval link's token, turned into a principal by the service owning the object.

The HTTP side (tests/api/test_webhooks.py, test_links.py) proves the wire: which header or path carries
the credential and the status each refusal gets. Here: the principal is narrowed to its one object, each
refusal is the error the HTTP surface maps to that status, and the acting services check only that the
principal is for their object.
"""

from __future__ import annotations

import dataclasses
import getpass
import time

import pytest

from jupyter_opensink.errors import Conflict, Gone, NotFound, Unauthorized
from jupyter_opensink.runtime.outbound import sign
from jupyter_opensink.services.access import Principal
from jupyter_opensink.services.links import GONE
from jupyter_opensink.services.webhooks import Signature

SECRET = "a-shared-secret-of-some-length"
BODY = b'{"t": "hello"}'
#: The 401's message, as senders read it.
NO_PROOF = ("send an API key (Authorization: Bearer), a Standard-Webhooks signature made with the webhook's "
            "secret, or X-OpenSink-Webhook-Secret")


def signature(body: bytes = BODY, secret: str = SECRET, *, message_id: str = "msg_1",
              at: int | None = None) -> Signature:
    stamp = int(time.time()) if at is None else at
    return Signature(message_id, str(stamp), sign(secret, message_id, stamp, body))


@pytest.fixture
def hooks(services, workspace_id, jp_asyncio_loop):
    """Two webhooks with a secret ("guarded", "other") and one without ("keys-only"), into one sink."""

    async def make():
        sink = await services.sinks.create(workspace_id, {"name": "s"}, owner_id="tester")
        action = {"type": "create_item", "sink_id": sink["id"], "title": "/t"}
        made = {}
        for path, secret in (("guarded", SECRET), ("other", SECRET + "-other"), ("keys-only", None)):
            made[path] = await services.webhooks.create(workspace_id, {"path": path, "secret": secret,
                                                                       "action": action, "dedup": None})
        return made

    return jp_asyncio_loop.run_until_complete(make())


async def test_a_webhook_secret_makes_its_sender_for_that_webhook_only(services, workspace_id, hooks):
    hook = hooks["guarded"]
    shared = await services.webhooks.principal_for_secret("guarded", SECRET, None, BODY)
    assert (shared.workspace_id, shared.webhook_id, shared.signed_call) == (workspace_id, hook["id"], None)
    assert not shared.is_user and shared.sink_id is shared.link_id is shared.key_id is None
    assert shared.label == f"webhook:{hook['id']}" and shared.scopes == ("webhooks:write",)
    status, reply = await services.webhooks.invoke("guarded", shared, {}, BODY)
    assert status == 201 and reply["item"]["title"] == "hello"

    signed = await services.webhooks.principal_for_secret("guarded", "", signature(message_id="msg_7"), BODY)
    assert signed.webhook_id == hook["id"] and signed.signed_call is not None
    assert signed.signed_call[0] == "msg_7"
    assert (await services.webhooks.invoke("guarded", signed, {}, BODY))[0] == 201

    # The sender of one webhook invokes no other: the answer a wrong secret gets, and nothing is recorded.
    with pytest.raises(Unauthorized) as refused:
        await services.webhooks.invoke("other", shared, {}, BODY)
    assert refused.value.message == NO_PROOF
    page = await services.webhooks.invocations(workspace_id, {"webhook_id": hooks["other"]["id"]}, limit=10,
                                               after=None, order="desc")
    assert page.items == []


async def test_a_signed_call_is_accepted_once_through_its_principal(services, hooks):
    signed = await services.webhooks.principal_for_secret("guarded", "", signature(message_id="once"), BODY)
    assert (await services.webhooks.invoke("guarded", signed, {}, BODY))[0] == 201
    again = await services.webhooks.principal_for_secret("guarded", "", signature(message_id="once"), BODY)
    with pytest.raises(Conflict) as replayed:
        await services.webhooks.invoke("guarded", again, {}, BODY)
    assert "already received" in replayed.value.message


@pytest.mark.parametrize("path, shared, signed", [  # signatures made when the test runs (they go stale)
    ("guarded", "not-the-secret-at-all", lambda: None),
    ("guarded", "", lambda: signature(secret="another-secret-entirely")),
    ("guarded", "", lambda: signature(b'{"t": "another body"}')),
    ("guarded", "", lambda: signature(at=int(time.time()) - 3600)),
    ("guarded", "", lambda: Signature(None, None, None)),  # nothing sent
    ("other", SECRET, lambda: None),  # another webhook's secret
    ("keys-only", SECRET, lambda: None),  # a webhook without a secret takes keys only
    ("keys-only", "", signature),
    ("no-such-hook", SECRET, signature),  # an unknown path looks the same as a wrong secret
], ids=["wrong shared", "other secret's signature", "other body's signature", "stale signature", "nothing",
        "another webhook's secret", "secret-less webhook", "secret-less webhook signed", "unknown path"])
async def test_a_webhook_secret_that_does_not_hold_is_the_401(services, hooks, path, shared, signed):
    with pytest.raises(Unauthorized) as refused:
        await services.webhooks.principal_for_secret(path, shared, signed(), BODY)
    assert refused.value.message == NO_PROOF


async def test_a_key_still_invokes_its_own_workspaces_webhooks_only(services, hooks):
    other_workspace = await services.workspaces.create("other")
    outsider = Principal(workspace_id=other_workspace["id"], is_user=False, scopes=("all:all",), key_id="k")
    with pytest.raises(NotFound) as refused:
        await services.webhooks.invoke("guarded", outsider, {}, BODY)
    assert refused.value.message == "webhook guarded not found"


# -- approval links ----------------------------------------------------------------------------------
@pytest.fixture
def requests(services, workspace_id, jp_asyncio_loop):
    """Two pending input requests of one agent's session."""

    async def make():
        agent = await services.agents.create(workspace_id, {"name": "a", "description": None,
                                                            "execution_endpoint": None})
        session = await services.sessions.create(workspace_id, {
            "agent_id": agent["id"], "status": "running", "state": {}, "metadata": {}, "error_message": None})
        return [await services.input_requests.create(workspace_id, {
            "session_id": session["id"], "agent_id": agent["id"], "key": key, "title": "t", "message": "m",
            "schema": {"type": "object"}, "expires_at": None}) for key in ("first", "second")]

    return jp_asyncio_loop.run_until_complete(make())


async def test_a_link_token_makes_a_principal_for_that_links_request_only(services, workspace_id, requests):
    links = services.approval_links
    first, second = requests
    made = await links.create(workspace_id, first["id"], expires_in=600, note=None)
    principal = await links.principal_for_token(made["token"])
    assert (principal.workspace_id, principal.link_id, principal.request_id) == (workspace_id, made["id"],
                                                                                 first["id"])
    assert not principal.is_user and principal.webhook_id is principal.sink_id is principal.key_id is None
    assert principal.label == f"link:{made['id']}"
    link, request, agent_name = await links.open(principal)
    assert (link["id"], request["id"], agent_name) == (made["id"], first["id"], "a")

    # Narrowed: the principal of this link opens no other request, nor does one that holds no link.
    for stranger in (dataclasses.replace(principal, request_id=second["id"]),
                     Principal(workspace_id=workspace_id, is_user=True)):
        for act in (lambda: links.open(stranger), lambda: links.use(stranger, {}, None)):
            with pytest.raises(NotFound) as refused:
                await act()
            assert refused.value.message == "unknown approval link"
    assert (await services.input_requests.get(workspace_id, second["id"]))["status"] == "pending"

    answered = await links.use(principal, {"ok": True}, "  Ann  ")
    assert answered["resolved_by"] == f"link:{made['id']}" and answered["resolved_by_name"] == "Ann"


async def test_an_unknown_token_is_the_404_and_a_spent_link_the_410_saying_why(services, workspace_id,
                                                                                requests):
    links = services.approval_links
    with pytest.raises(NotFound) as refused:
        await links.principal_for_token("not-a-token-of-any-link")
    assert refused.value.message == "unknown approval link"

    used, revoked, expired = [await links.create(workspace_id, requests[0]["id"], expires_in=600, note=None)
                              for _ in range(3)]
    await links.use(await links.principal_for_token(used["token"]), {}, None)
    await links.revoke(workspace_id, requests[0]["id"], revoked["id"])
    await services.store.update("approval_links", expired["id"], {"expires_at": "2020-01-01T00:00:00.000Z"})
    for made, state in ((used, "used"), (revoked, "revoked"), (expired, "expired")):
        with pytest.raises(Gone) as gone:
            await links.principal_for_token(made["token"])
        assert (gone.value.reason, gone.value.message) == (state, GONE[state])


async def test_a_link_spent_after_its_token_was_checked_no_longer_opens(services, workspace_id, requests):
    """Used, revoked and expired stay the link's own rules: checked again whenever it acts."""
    links = services.approval_links
    made = await links.create(workspace_id, requests[0]["id"], expires_in=600, note=None)
    principal = await links.principal_for_token(made["token"])
    await links.revoke(workspace_id, requests[0]["id"], made["id"])
    for act in (lambda: links.open(principal), lambda: links.use(principal, {}, None)):
        with pytest.raises(Gone) as gone:
            await act()
        assert gone.value.reason == "revoked"
    assert (await services.input_requests.get(workspace_id, requests[0]["id"]))["status"] == "pending"

    other = await links.create(workspace_id, requests[1]["id"], expires_in=600, note=None)
    principal = await links.principal_for_token(other["token"])
    await services.input_requests.resolve(workspace_id, requests[1]["id"], {})
    with pytest.raises(Gone) as gone:
        await links.open(principal)
    assert (gone.value.reason, gone.value.message) == ("answered", GONE["answered"])


@pytest.mark.parametrize("principal, owner", [
    pytest.param(Principal("w", is_user=False, key_id="key-1"), "key-1", id="an API key: its id"),
    pytest.param(Principal("w", is_user=True, user_name="ada"), "ada", id="a named Jupyter user"),
    pytest.param(Principal("w", is_user=True, user_name="0123456789abcdef0123456789abcdef"), getpass.getuser(),
                 id="an anonymous token login: the account"),
    pytest.param(Principal("w", is_user=True, key_id="kernel-key", user_name="kernel"), getpass.getuser(),
                 id="the kernels' key: the account"),
])
def test_who_owns_what_a_principal_creates(principal, owner):
    assert principal.owner_id == owner
