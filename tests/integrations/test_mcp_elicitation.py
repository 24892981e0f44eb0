"""An MCP server's questions to its user, answered by a person through a real server.

The MCP server is the test's own (the ``mcp`` SDK's ``MCPServer``, in this process), reached by the SDK's
``Client`` over its in-memory transport; its tools elicit, and the person answers in the inbox.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp.client import Client as McpClient
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from jupyter_opensink.client import AsyncClient
from jupyter_opensink.integrations.mcp_elicitation import ElicitationHandler


class Seat(BaseModel):
    seat: str = Field(description="Row and letter, e.g. 12A")
    window: bool = True


class Cleanup(BaseModel):
    reason: str = "stale branches"
    notify_owners: bool = True


def booking_server() -> MCPServer:
    """An MCP server whose tools ask their user before acting, and say what they were told."""
    server = MCPServer("airline", log_level="WARNING")  # INFO would log every request of the process

    @server.tool()
    async def book(flight: str, ctx: Context) -> str:
        answer = await ctx.elicit(f"Which seat on {flight}?\nThe flight is nearly full.", schema=Seat)
        if answer.action == "accept":
            return f"booked {answer.data.seat} (window: {answer.data.window}) on {flight}"
        return answer.action

    @server.tool()
    async def prune(repository: str, ctx: Context) -> str:
        answer = await ctx.elicit(f"Delete the merged branches of {repository}?", schema=Cleanup)
        if answer.action == "accept":
            return f"pruned ({answer.data.reason}; notify: {answer.data.notify_owners})"
        return answer.action

    @server.tool()
    async def pay(amount: int, ctx: Context) -> str:
        answer = await ctx.elicit_url(f"Pay {amount} EUR on the payment page",
                                      "https://pay.example/checkout/7", "checkout-7")
        return answer.action

    return server


def call(server: Any, tool: str, arguments: dict[str, Any], handler: ElicitationHandler) -> str:
    async def main() -> str:
        async with McpClient(booking_server(), elicitation_callback=handler, mode="legacy") as mcp:
            result = await mcp.call_tool(tool, arguments)
        return result.content[0].text

    return anyio.run(main)


def handler_for(server: Any, **options: Any) -> ElicitationHandler:
    return ElicitationHandler(AsyncClient(server.url, server.key), agent="travel agent", **options)


def test_a_form_accepted_returns_what_the_person_filled_in(server, person):
    seen = person(lambda request: {"decision": "approve", "response": {"seat": "12A", "window": False}})
    said = call(server, "book", {"flight": "LH 400"}, handler_for(server, timeout=20))

    assert said == "booked 12A (window: False) on LH 400"
    [request] = seen
    assert request["title"] == "Which seat on LH 400?"
    assert request["message"] == "Which seat on LH 400?\nThe flight is nearly full."
    assert request["decisions"] == ["approve", "reject"]
    assert request["schema"]["required"] == ["seat"]
    assert request["schema"]["properties"]["seat"]["description"] == "Row and letter, e.g. 12A"
    assert request.get("defaults") is None  # the seat has no default: nothing to propose
    assert {"title": "Asked by", "data": {"text/plain": "the MCP server airline"}} in request["context"]


def test_defaults_covering_the_form_are_proposed_and_accepted_as_they_are(server, client, person):
    seen = person(lambda request: {"decision": "approve", "response": request["defaults"]})
    said = call(server, "prune", {"repository": "site"}, handler_for(server, timeout=20))

    assert said == "pruned (stale branches; notify: True)"
    assert seen[0]["defaults"] == {"reason": "stale branches", "notify_owners": True}
    assert client.input_requests.get(seen[0]["id"])["changes"] == []


def test_a_rejected_form_is_declined(server, person):
    person(lambda request: {"decision": "reject", "comment": "I will book it myself"})
    assert call(server, "book", {"flight": "LH 400"}, handler_for(server, timeout=20)) == "decline"


def test_no_answer_in_time_is_cancelled_and_the_question_expires(server, client):
    said = call(server, "book", {"flight": "LH 401"}, handler_for(server, timeout=0.5))

    assert said == "cancel"
    [asked] = [r for r in client.input_requests.list(order="desc", limit=5)["items"]
               if r["message"].startswith("Which seat on LH 401?")]
    assert asked["status"] == "expired"


def test_a_link_is_shown_and_approving_it_accepts(server, person):
    seen = person(lambda request: {"decision": "approve", "response": {}})
    assert call(server, "pay", {"amount": 30}, handler_for(server, timeout=20)) == "accept"
    shown = {item["title"]: item["data"] for item in seen[0]["context"]}
    assert shown["Link"]["text/plain"] == "https://pay.example/checkout/7"
    assert seen[0]["title"] == "Pay 30 EUR on the payment page"


def test_the_questions_go_to_the_session_given(server, client, person):
    agent_id = client.agents.create(name="concierge")["id"]
    session = client.agent_sessions.create(agent_id=agent_id)
    seen = person(lambda request: {"decision": "reject"})
    assert call(server, "book", {"flight": "AF 12"},
                handler_for(server, session_id=session["id"], timeout=20)) == "decline"
    assert seen[0]["session_id"] == session["id"]


@pytest.mark.parametrize("schema, expected", [
    ({"type": "object", "properties": {"a": {"type": "string"}}}, None),
    ({"type": "object", "properties": {"a": {"type": "string", "default": "x"}}, "required": ["a"]},
     {"a": "x"}),
    ({"type": "object", "properties": {"a": {"type": "string", "default": "x"}, "b": {"type": "integer"}},
      "required": ["a", "b"]}, None),
])
def test_only_defaults_that_make_a_valid_answer_are_proposed(schema, expected):
    from jupyter_opensink.integrations.mcp_elicitation import proposal

    assert proposal(schema) == expected
