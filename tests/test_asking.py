"""``client.ask`` and ``@requires_approval`` against a real server, answered by another client the way a
person's inbox answers (the answer in a notebook cell's own output: tests/browser)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from jupyter_opensink.client import Answer, AsyncClient, Client, Rejected, requires_approval
from jupyter_opensink.client.asking import display_items

from .servers import start_server

pytestmark = pytest.mark.xdist_group("client")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("asking")
    running = start_server(base / "work", base / "db", "--OpenSinkApp.fsync=never")
    with running.client() as admin:
        running.key = admin.post("/api-keys", json={"name": "asking tests"}).json()["key"]
    yield running
    running.stop()


@pytest.fixture
def client(server):
    with Client(server.url, server.key) as c:
        yield c


def answer_when_asked(server, decide: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    """A person in another process, in effect: waits (bounded) for the next pending request, answers it
    with ``decide(request)``; what they saw is appended to the list returned."""
    seen: list[dict[str, Any]] = []

    def person() -> None:
        with Client(server.url, server.key) as inbox:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                pending = inbox.input_requests.list(status="pending")["items"]
                if pending:
                    seen.append(pending[0])
                    inbox.input_requests.resolve(pending[0]["id"], **decide(pending[0]))
                    return
                time.sleep(0.05)

    threading.Thread(target=person, daemon=True).start()
    return seen


def test_ask_without_a_schema_is_approve_or_reject(client, server):
    seen = answer_when_asked(server, lambda r: {"decision": "approve", "response": {}})
    answer = client.ask("Deploy v2?", message="All checks pass.", agent="deployer", timeout=20)
    assert isinstance(answer, Answer) and answer.approved and answer.decision == "approve"
    (asked,) = seen
    assert asked["decisions"] == ["approve", "reject"] and asked["schema"] == {"type": "object", "properties": {}}
    agent = client.agents.get(asked["agent_id"])
    assert agent["name"] == "deployer"
    # a second question of the same agent in this process goes into the same session
    answer_when_asked(server, lambda r: {"decision": "reject", "comment": "not on Friday"})
    again = client.ask("Deploy v3?", agent="deployer", timeout=20)
    assert (again.approved, again.comment) == (False, "not on Friday")
    assert again.request["session_id"] == asked["session_id"]


def test_ask_with_a_form_a_proposal_and_evidence(client, server):
    seen = answer_when_asked(server, lambda r: {"decision": "approve", "response": {**r["defaults"], "qty": 5}})
    schema = {"type": "object", "properties": {"qty": {"type": "integer"}, "symbol": {"type": "string"}}}
    answer = client.ask("Buy?", schema, defaults={"qty": 10, "symbol": "AAPL"}, decisions=["approve", "reject"],
                        context=["momentum is up", ("Numbers", {"data": {"application/json": {"up": 3}}})],
                        agent="trader", timeout=20)
    assert answer.response == {"qty": 5, "symbol": "AAPL"}
    assert answer.changes == [{"op": "replace", "path": "/qty", "value": 5}]
    assert seen[0]["context"] == [{"data": {"text/plain": "momentum is up"}},
                                  {"data": {"application/json": {"up": 3}}}]


def test_a_timeout_says_so_and_leaves_the_request_answerable(client):
    with pytest.raises(TimeoutError) as waited:
        client.ask("Anyone there?", agent="patient", timeout=0.5)
    assert "stays open" in str(waited.value)
    (pending,) = [r for r in client.input_requests.list(status="pending")["items"] if r["title"] == "Anyone there?"]
    done = client.input_requests.resolve(pending["id"], {}, decision="approve")
    assert done["status"] == "resolved"


def test_the_session_can_be_given(client, server, monkeypatch):
    agent = client.agents.create(name="given")
    session = client.agent_sessions.create(agent_id=agent["id"])
    monkeypatch.setenv("OPENSINK_SESSION_ID", session["id"])
    answer_when_asked(server, lambda r: {"decision": "approve", "response": {}})
    assert client.ask("OK?", timeout=20).request["session_id"] == session["id"]


def test_requires_approval_runs_with_the_edited_arguments_or_raises(client, server):
    ran: list[tuple[str, int, float]] = []

    @requires_approval("Place the order?", client=client, agent="orders", timeout=20)
    def place_order(symbol: str, quantity: int, limit: float = 10.5) -> str:
        """Sends an order to the broker."""
        ran.append((symbol, quantity, limit))
        return f"{quantity} {symbol}"

    seen = answer_when_asked(server, lambda r: {"decision": "approve", "response": {**r["defaults"], "quantity": 3}})
    assert place_order("AAPL", 100) == "3 AAPL" and ran == [("AAPL", 3, 10.5)]
    asked = seen[0]
    assert asked["defaults"] == {"symbol": "AAPL", "quantity": 100, "limit": 10.5}
    assert asked["message"] == "Sends an order to the broker."
    assert asked["schema"]["properties"]["quantity"]["type"] == "integer"
    answer_when_asked(server, lambda r: {"decision": "reject", "comment": "too big"})
    with pytest.raises(Rejected) as refused:
        place_order("AAPL", 10_000)
    assert refused.value.comment == "too big" and len(ran) == 1


def test_requires_approval_wraps_a_coroutine(server):
    async def main() -> None:
        async with AsyncClient(server.url, server.key) as aclient:
            @requires_approval(client=aclient, agent="async orders", timeout=20)
            async def cancel(order_id: str) -> str:
                return f"cancelled {order_id}"

            answer_when_asked(server, lambda r: {"decision": "approve", "response": {"order_id": "B-2"}})
            assert await cancel("A-1") == "cancelled B-2"
            answer_when_asked(server, lambda r: {"decision": "reject", "comment": "keep it"})
            with pytest.raises(Rejected, match="keep it"):
                await cancel("A-1")

    asyncio.run(main())


def test_context_objects_become_display_items():
    class Rich:
        def _repr_html_(self) -> str:
            return "<b>rich</b>"

        def __repr__(self) -> str:
            return "Rich()"

    items = display_items([Rich(), ("Chart", b"\x89PNG\r\n\x1a\n...")])
    assert items[0] == {"data": {"text/html": "<b>rich</b>", "text/plain": "Rich()"}}
    assert items[1]["title"] == "Chart" and set(items[1]["data"]) == {"image/png"}
