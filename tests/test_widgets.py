"""The notebook inbox and its generated forms, driven like a person would, against a real server."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path

import ipywidgets as w
import pytest

from jupyter_opensink.client import AsyncClient, Client
from jupyter_opensink.widgets import Inbox, RequestForm, build
from jupyter_opensink.forms import FormErrors
from jupyter_opensink.widgets.forms import Fixed, Group, JsonEditor, ListField, Simple
from jupyter_opensink.widgets.inbox import local_time

from .images import tiny_png
from .receivers import start_receiver
from .servers import start_server

TRADE = json.loads((Path(__file__).parent / "fixtures" / "trade-approval-schema.json").read_text())
# The same schema drives the labextension form tests (labextension/test/forms.test.mjs).
EVERYTHING = json.loads((Path(__file__).parent / "fixtures" / "every-schema-feature.json").read_text())


#: One worker runs the whole module (with ``--dist loadgroup``), so its server process starts once, not once
#: per worker.
pytestmark = pytest.mark.xdist_group("widgets")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("widgets")
    running = start_server(base / "work", base / "db", "--OpenSinkApp.fsync=never")
    with running.client() as admin:
        running.key = admin.post("/api-keys", json={"name": "widget tests"}).json()["key"]
    yield running
    running.stop()


def new_request(client: Client, schema: dict, endpoint: dict | None = None, **fields) -> dict:
    agent = client.agents.create(name="asker", execution_endpoint=endpoint)
    session = client.agent_sessions.create(agent_id=agent["id"])
    return client.input_requests.create(session_id=session["id"], agent_id=agent["id"], key="k",
                                        title="Please decide", message="Details here", schema=schema, **fields)


def test_every_schema_feature_becomes_the_right_input():
    form = build(EVERYTHING, required=True, top=True)
    assert isinstance(form, Group)
    f = form.fields

    def inner(field):  # the input itself; ``widget`` may wrap it with its description
        return field.input

    assert isinstance(inner(f["name"]), w.Text) and inner(f["name"]).description == "Your name *"
    assert "Who decides" in f["name"].widget.children[1].value
    assert isinstance(inner(f["approved"]), w.Checkbox) and inner(f["approved"]).value is True
    assert isinstance(inner(f["notes"]), w.Textarea) and isinstance(inner(f["essay"]), w.Textarea)
    assert isinstance(inner(f["color"]), w.Dropdown) and inner(f["color"]).label == "green"
    assert isinstance(inner(f["day"]), w.DatePicker) and inner(f["day"]).value == dt.date(2026, 12, 1)
    assert isinstance(inner(f["at"]), w.DatetimePicker)
    count = inner(f["count"])  # a number is typed as text: it can be empty, unlike ipywidgets' numeric inputs
    assert isinstance(count, w.Text)
    assert (count.value, count.placeholder) == ("2", "a whole number from 1 to 5")
    ratio = inner(f["ratio"])
    assert isinstance(ratio, w.Text) and (ratio.value, ratio.placeholder) == ("", "a number, at most 1.5")
    assert isinstance(f["tags"], ListField) and isinstance(f["tags"].input, w.TagsInput)
    assert isinstance(f["scores"].input, w.IntsInput)
    assert isinstance(f["fixed"], Fixed) and isinstance(f["shown"], Fixed)
    assert isinstance(f["nested"], Group) and "Nested group" in f["nested"].widget.children[0].value
    assert "Inner settings" in f["nested"].widget.children[1].value
    assert isinstance(f["either"], JsonEditor)
    inner(f["name"]).value = "Ada"
    inner(f["at"]).value = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone.utc)
    f["tags"].input.value = ["a", "b"]
    f["either"].input.value = "7"
    assert form.value() == {
        "name": "Ada", "approved": True, "color": "green", "day": "2026-12-01", "at": "2026-12-01T09:30:00Z",
        "count": 2, "tags": ["a", "b"], "scores": [], "fixed": "v1", "shown": 3, "either": 7,
    }  # ratio left empty and the untouched optional nested object are not sent (as on the approval page)
    f["either"].input.value = "{not json"
    with pytest.raises(ValueError, match="not valid JSON"):
        form.value()
    assert isinstance(build({"type": "object"}), JsonEditor)  # an object with no properties
    assert isinstance(build({"type": "array", "items": {"type": "object"}}), JsonEditor)
    assert isinstance(build({"type": "boolean"}), Simple)


def test_trade_approval_form_resolves_and_calls_the_agent(server):
    async def main() -> None:
        receiver, http = start_receiver()
        client = Client(server.url, server.key)
        request = new_request(client, TRADE, {"url": receiver.url("/agent")})
        form = RequestForm(request, client)
        trade_0, trade_1 = form.field.fields["trade_0"], form.field.fields["trade_1"]
        assert trade_1.fields["approved"].input.value is False  # default prefilled; left as is
        assert isinstance(trade_0.fields["symbol"], Fixed) and "AAPL" in trade_0.fields["symbol"].widget.value
        assert "BUY 10 AAPL" in trade_0.widget.children[0].value
        assert "Earnings beat" in trade_0.widget.children[1].value
        trade_0.fields["approved"].input.value = True
        form.field.fields["notes"].input.value = "go"
        form.submit_button.click()
        assert "Resolved by widget tests at" in form.status.value and len(form.children) == 2  # collapsed
        stored = client.input_requests.get(request["id"])
        assert stored["status"] == "resolved"
        assert stored["response"] == {
            "trade_0": {"symbol": "AAPL", "action": "buy", "quantity": 10, "approved": True},
            "trade_1": {"symbol": "BTC", "action": "sell", "quantity": 3, "approved": False}, "notes": "go"}
        (call,) = await receiver.wait_for(1)
        assert call.json["request_id"] == request["id"]
        http.stop()
        client.close()

    asyncio.run(main())


def test_server_validation_errors_keep_the_typed_values(server):
    client = Client(server.url, server.key)
    schema = {"type": "object", "required": ["approved", "reason"],
              "properties": {"approved": {"type": "boolean"},
                             "reason": {"type": "string", "minLength": 5}}}
    request = new_request(client, schema)
    form = RequestForm(request, client)
    form.field.fields["reason"].input.value = "no"
    form.submit_button.click()
    assert "reason" in form.error.value and "must be at least 5 characters long" in form.error.value
    assert form.field.fields["reason"].input.value == "no"  # nothing lost
    assert client.input_requests.get(request["id"])["status"] == "pending"
    form.field.fields["reason"].input.value = "too risky"
    form.submit_button.click()
    resolved = client.input_requests.get(request["id"])
    assert resolved["status"] == "resolved" and resolved["response"] == {"approved": False, "reason": "too risky"}
    bad_json = RequestForm(new_request(client, {"type": "object", "properties": {
        "x": {"anyOf": [{"type": "string"}]}}}), client)
    bad_json.field.fields["x"].input.value = "{"
    bad_json.submit_button.click()
    assert "not valid JSON" in bad_json.error.value
    client.close()


def test_the_approval_link_button_shows_a_working_link(server):
    import httpx

    client = Client(server.url, server.key)
    request = new_request(client, TRADE)
    form = RequestForm(request, client)
    assert form.link_box.children == () and form.link_button.description == "Copy approval link"
    form.link_button.click()
    url = form.link_text.value
    text, note = form.link_box.children
    assert text is form.link_text and url.startswith(server.url + "/approve/")
    assert "works until" in note.value and form.error.value == ""
    (listed,) = client.input_requests.links(request["id"])["items"]
    assert listed["status"] == "active" and listed["expires_at"] in note.value
    page = httpx.get(url)  # no credential: the link is one
    assert page.status_code == 200 and "Please decide" in page.text and "BUY 10 AAPL" in page.text
    assert form.link_button.layout.width == "auto"  # its label is never cut off
    form.link_button.click()  # another click, another link
    assert form.link_text.value != url and len(client.input_requests.links(request["id"])["items"]) == 2
    form.submit_button.click()
    answered = RequestForm(client.input_requests.get(request["id"]), client)
    answered.link_button.click()  # answered meanwhile: the server's reason is shown
    assert "already resolved" in answered.error.value and answered.link_box.children == ()
    assert httpx.get(url).status_code == 410
    client.close()


def test_inbox_follows_the_event_stream(server):
    async def main() -> None:
        client = Client(server.url, server.key)
        async_client = AsyncClient(server.url, server.key)
        first = new_request(client, {"type": "object", "properties": {"ok": {"type": "boolean"}}})
        inbox = Inbox(client, async_client=async_client, agent_id=first["agent_id"])
        assert inbox.pending_ids == [first["id"]] and "1 pending request" in inbox.count.value
        await asyncio.sleep(0.3)  # the stream is open
        session = client.agent_sessions.create(agent_id=first["agent_id"])
        started = time.monotonic()
        second = client.input_requests.create(session_id=session["id"], agent_id=first["agent_id"], key="k2",
                                              title="Another", message="m", schema={"type": "object"})
        while second["id"] not in inbox.pending_ids and time.monotonic() - started < 5:
            await asyncio.sleep(0.02)
        assert inbox.pending_ids == [second["id"], first["id"]]  # newest first, within a second
        assert time.monotonic() - started < 2.0  # typically a few ms; the margin is for a loaded machine
        client.input_requests.resolve(first["id"], {"ok": True})  # answered elsewhere: it leaves
        while first["id"] in inbox.pending_ids and time.monotonic() - started < 5:
            await asyncio.sleep(0.02)
        assert inbox.pending_ids == [second["id"]]
        inbox.forms[second["id"]].submit_button.click()  # answered here
        assert inbox.pending_ids == [] and inbox.empty.layout.display == ""
        assert "0 pending requests" in inbox.count.value
        # both stay as notes, newest first, saying what was decided, by whom and when (local time)
        here, elsewhere = inbox.notes
        assert here.request["id"] == second["id"] and elsewhere.request["id"] == first["id"]
        assert "✔ Resolved by" in here.status.value and local_time(here.request["resolved_at"]) in here.status.value
        assert "✔ Resolved by" in elsewhere.status.value
        assert inbox.list_box.children == (here, elsewhere)
        inbox.stop()
        await async_client.aclose()
        client.close()

    asyncio.run(main())


def test_an_optional_object_left_empty_is_left_out():
    schema = {"type": "object", "required": ["go"], "properties": {
        "go": {"type": "string"},
        "shipping": {"type": "object", "required": ["street"], "properties": {"street": {"type": "string"}}}}}
    form = build(schema, required=True, top=True)
    form.fields["go"].input.value = "yes"
    assert form.value() == {"go": "yes"}  # {"shipping": {}} would break its required street
    form.fields["shipping"].fields["street"].input.value = "Main St 1"
    assert form.value() == {"go": "yes", "shipping": {"street": "Main St 1"}}
    optional_only = {"type": "object", "properties": {"go": {"type": "string"}}}
    assert build(optional_only, required=True, top=True).value() == {}  # the top object is always sent
    with pytest.raises(FormErrors, match="go: required"):  # and so are its required fields checked
        build(schema, required=True, top=True).value()


def test_a_bounded_number_starts_empty_and_a_required_one_blocks_the_submit(server):
    """The widget never sends a value nobody chose: a bounded integer without a default is not its minimum."""
    client = Client(server.url, server.key)
    schema = {"type": "object", "required": ["quantity"], "properties": {
        "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
        "price": {"type": "number", "minimum": 0}}}
    request = new_request(client, schema)
    form = RequestForm(request, client)
    quantity, price = form.field.fields["quantity"], form.field.fields["price"]
    assert quantity.input.value == "" and price.input.value == ""
    assert quantity.input.placeholder == "a whole number from 1 to 100"
    with pytest.raises(FormErrors) as caught:
        form.field.value()
    assert caught.value.problems == {quantity.spec.name: "quantity: required"}
    form.submit_button.click()
    assert "quantity: required" in form.error.value and "quantity: required" in quantity.problem.value
    assert price.problem.value == "" and client.input_requests.get(request["id"])["status"] == "pending"
    quantity.input.value = "3"
    form.submit_button.click()
    assert quantity.problem.value == ""
    assert client.input_requests.get(request["id"])["response"] == {"quantity": 3}  # price: left out
    client.close()


ORDER = {"type": "object", "required": ["symbol", "quantity"], "properties": {
    "symbol": {"type": "string", "title": "Symbol"},
    "quantity": {"type": "integer", "title": "Quantity", "minimum": 1, "maximum": 1000},
    "desk": {"type": "string", "title": "Desk code", "pattern": "^[A-Z]{3}$"},
    "note": {"type": "string", "title": "Note"}}}
PROPOSAL = {"symbol": "AAPL", "quantity": 10, "desk": "NYC"}
DECIDE = ["approve", "reject", "respond"]


def test_the_widget_opens_with_the_proposal_shows_the_evidence_sanitized_and_approves(server):
    async def main() -> None:
        receiver, http = start_receiver()
        client = Client(server.url, server.key)
        png = tiny_png()
        context = [{"title": "Chart", "data": {"image/png": png}},
                   {"title": "Fills <i>today</i>", "data": {"text/html": (
                       '<p>Filled <b>3</b></p><script>alert(1)</script><img src="x" onerror="alert(2)">'
                       '<a href="javascript:alert(3)">go</a>')}},
                   {"title": "Why", "data": {"text/markdown": "Earnings **beat**.", "text/plain": "beat"}}]
        request = new_request(client, ORDER, {"url": receiver.url("/agent")}, defaults=PROPOSAL, context=context,
                              decisions=DECIDE)
        form = RequestForm(request, client)
        f = form.field.fields
        assert (f["symbol"].input.value, f["quantity"].input.value, f["desk"].input.value) == ("AAPL", "10", "NYC")
        assert f["note"].input.value == ""  # no proposal for it: empty, never a value nobody chose
        assert form.submit_button is None and list(form.decision_buttons) == ["approve", "respond", "reject"]
        assert [b.description for b in form.decision_buttons.values()] == ["Approve", "Reply", "Reject"]
        assert form.comment is not None and "reply" in form.comment.placeholder
        # The evidence is display data in an Output, drawn by the front end's renderers, made inert first.
        assert isinstance(form.context, w.Output) and form.context in form.children
        shown = [output["data"] for output in form.context.outputs]
        assert shown[0]["text/plain"] == "Chart" and shown[1] == {"image/png": png}
        assert shown[2]["text/html"] == "<strong>Fills &lt;i&gt;today&lt;/i&gt;</strong>"
        assert shown[3]["text/html"].startswith("<p>Filled <b>3</b></p>")
        assert shown[5] == {"text/html": "<p>Earnings <strong>beat</strong>.</p>\n", "text/plain": "beat"}
        for gone in ("<script", "onerror", "javascript:", "alert("):
            assert gone not in shown[3]["text/html"], gone
        form.approve_button.click()  # as proposed
        assert "Approved by widget tests at" in form.status.value, form.error.value
        stored = client.input_requests.get(request["id"])
        assert (stored["decision"], stored["changes"], stored["response"]) == ("approve", [], PROPOSAL)
        (call,) = await receiver.wait_for(1)
        assert call.json["answer"]["decision"] == "approve" and call.json["answer"]["changes"] == []
        edited = RequestForm(new_request(client, ORDER, defaults=PROPOSAL, decisions=DECIDE), client)
        edited.field.fields["quantity"].input.value = "4"
        edited.comment.value = "smaller for now"
        edited.approve_button.click()
        stored = client.input_requests.get(edited.request["id"])
        assert stored["changes"] == [{"op": "replace", "path": "/quantity", "value": 4}]
        assert stored["comment"] == "smaller for now"
        http.stop()
        client.close()

    asyncio.run(main())


def test_reject_and_reply_through_the_widget(server):
    client = Client(server.url, server.key)
    rejecting = RequestForm(new_request(client, ORDER, defaults=PROPOSAL, decisions=DECIDE), client)
    rejecting.field.fields["quantity"].input.value = "lots"  # not read: a no needs no valid form
    rejecting.field.fields["symbol"].input.value = ""
    rejecting.comment.value = "Not before earnings."
    rejecting.reject_button.click()
    assert "Rejected by widget tests at" in rejecting.status.value, rejecting.error.value
    stored = client.input_requests.get(rejecting.request["id"])
    assert (stored["decision"], stored["comment"], stored["response"]) == ("reject", "Not before earnings.", None)

    replying = RequestForm(new_request(client, ORDER, defaults=PROPOSAL, decisions=["respond", "reject"]), client)
    assert list(replying.decision_buttons) == ["respond", "reject"] and replying.approve_button is None
    replying.comment.value = "   "
    replying.reply_button.click()
    assert "write your reply" in replying.comment_problem.value and "write your reply" in replying.error.value
    assert client.input_requests.get(replying.request["id"])["status"] == "pending"
    replying.comment.value = "Buy half now."
    replying.reply_button.click()
    assert "Reply sent by widget tests at" in replying.status.value and replying.comment_problem.value == ""
    stored = client.input_requests.get(replying.request["id"])
    assert (stored["decision"], stored["comment"], stored["response"]) == ("respond", "Buy half now.", None)

    plain = RequestForm(new_request(client, ORDER, defaults=PROPOSAL), client)
    assert plain.decision_buttons == {} and plain.comment is None and plain.context.outputs == ()
    plain.submit_button.click()
    stored = client.input_requests.get(plain.request["id"])
    assert stored["decision"] is None and stored["response"] == PROPOSAL and stored["changes"] == []
    client.close()


def test_server_violations_are_shown_beside_their_fields(server):
    """The widget's engine does not check a pattern; the server does, and its answer lands beside the field."""
    client = Client(server.url, server.key)
    form = RequestForm(new_request(client, ORDER, defaults=PROPOSAL, decisions=DECIDE), client)
    desk, quantity = form.field.fields["desk"], form.field.fields["quantity"]
    desk.input.value = "nyc"
    form.approve_button.click()
    assert "Desk code: " in desk.problem.value and "Desk code" in form.error.value
    assert quantity.problem.value == "" and desk.input.value == "nyc"  # what was typed stays
    assert client.input_requests.get(form.request["id"])["status"] == "pending"
    desk.input.value = "NYC"
    form.approve_button.click()
    assert desk.problem.value == "" and client.input_requests.get(form.request["id"])["decision"] == "approve"
    client.close()


def test_approve_and_remember_from_the_widget_creates_the_policy(server):
    """Checked "Remember", Approve also makes the policy approving the same proposal of this agent and key; a key
    (not the Jupyter user) is told it cannot, and nothing is answered."""
    as_user = Client(server.url, server.token)  # the Jupyter user, as the kernels' own key acts
    request = new_request(as_user, ORDER, defaults=PROPOSAL, decisions=DECIDE)
    form = RequestForm(request, as_user)
    assert form.remember is not None and form.remember.value is False
    assert [label for label, _ in form.remember_for.options] == ["for an hour", "for a day", "for a week"]
    form.remember.value = True
    form.remember_for.value = 7 * 86400
    form.approve_button.click()
    assert "Approved" in form.status.value, form.error.value
    (policy,) = [p for p in as_user.approval_policies.list()["items"] if p["remembered_from"] == request["id"]]
    assert (policy["agent_id"], policy["request_key"], policy["decision"]) == (request["agent_id"], "k", "approve")
    left = dt.datetime.fromisoformat(policy["expires_at"].replace("Z", "+00:00")) - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(days=6, hours=23) < left <= dt.timedelta(days=7)
    session = as_user.agent_sessions.create(agent_id=request["agent_id"])
    again = as_user.input_requests.create(session_id=session["id"], agent_id=request["agent_id"], key="k",
                                          title="Please decide", message="again", schema=ORDER, defaults=PROPOSAL,
                                          decisions=DECIDE)
    assert again["status"] == "resolved" and again["resolved_by"] == f"policy:{policy['id']}"

    as_key = Client(server.url, server.key)
    keyed = RequestForm(new_request(as_key, ORDER, defaults=PROPOSAL, decisions=DECIDE), as_key)
    keyed.remember.value = True
    keyed.approve_button.click()
    assert "only the Jupyter user" in keyed.error.value
    assert as_key.input_requests.get(keyed.request["id"])["status"] == "pending"
    reject_only = RequestForm(new_request(as_key, ORDER, defaults=PROPOSAL, decisions=["reject"]), as_key)
    assert reject_only.remember is None  # only an approval is remembered
    as_user.close()
    as_key.close()
