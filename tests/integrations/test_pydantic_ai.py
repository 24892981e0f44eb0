"""Pydantic AI agents whose tool approvals a person answers through a real server.

The agents run Pydantic AI's ``FunctionModel``: a model written in the test, which sees every message the
agent sends it, so the tests assert on what the model reads after a decision (the tool's result, or the
person's reason for refusing it).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pydantic_ai = pytest.importorskip("pydantic_ai")

from pydantic_ai import Agent, ApprovalRequired, CallDeferred, DeferredToolRequests, RunContext  # noqa: E402
from pydantic_ai.messages import (ModelMessage, ModelRequest, ModelResponse, TextPart,  # noqa: E402
                                  ToolCallPart, ToolReturnPart)
from pydantic_ai.models.function import AgentInfo, FunctionModel  # noqa: E402

from jupyter_opensink.client import AsyncClient, Client  # noqa: E402
from jupyter_opensink.integrations import pydantic_ai as opensink_pydantic_ai  # noqa: E402

ROOT = Path(__file__).parents[2]


class Transfers:
    """An agent that moves money only with approval, and a model that asks to move 250 EUR to Bob, then
    reports what the tool said (or what it was told instead)."""

    def __init__(self, amount: int = 250) -> None:
        self.ran: list[dict[str, Any]] = []
        self.model_saw: list[ModelMessage] = []
        self.amount = amount
        self.agent = Agent(FunctionModel(self.model), name="treasurer")

        @self.agent.tool_plain(requires_approval=True)
        def transfer(to: str, amount: int, currency: str = "EUR") -> str:
            """Move money from the company account."""
            self.ran.append({"to": to, "amount": amount, "currency": currency})
            return f"sent {amount} {currency} to {to}"

    def model(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.model_saw.append(messages[-1])
        returned = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)]
        if returned:
            return ModelResponse(parts=[TextPart(f"Outcome: {returned[0].content}")])
        return ModelResponse(parts=[TextPart("Paying Bob's invoice."),
                                    ToolCallPart("transfer", {"to": "bob", "amount": self.amount})])


def approve(request: dict[str, Any], **edits: Any) -> dict[str, Any]:
    return {"decision": "approve", "response": {**request["defaults"], **edits}}


def test_approved_as_proposed_the_tool_runs_with_the_proposed_arguments(client, person):
    transfers = Transfers()
    seen = person(approve)
    result = opensink_pydantic_ai.run_sync(transfers.agent, "pay the invoice", client=client, timeout=20)

    assert transfers.ran == [{"to": "bob", "amount": 250, "currency": "EUR"}]
    assert result.output == "Outcome: sent 250 EUR to bob"
    [request] = seen
    assert request["title"] == "Run transfer?"
    assert request["message"] == "Move money from the company account."
    assert request["decisions"] == ["approve", "reject"]
    assert request["defaults"] == {"to": "bob", "amount": 250, "currency": "EUR"}
    assert request["schema"]["required"] == ["to", "amount"]
    assert set(request["schema"]["properties"]) == {"to", "amount", "currency"}
    shown = {item.get("title"): item["data"] for item in request["context"]}
    assert "transfer" in shown["Tool"]["text/plain"]
    assert shown["Arguments"]["application/json"] == {"to": "bob", "amount": 250, "currency": "EUR"}
    assert shown["The model said"]["text/plain"] == "Paying Bob's invoice."

    session = client.agent_sessions.get(request["session_id"])
    assert session["status"] == "completed"
    kept = session["state"]["pydantic_ai"]
    assert kept["pending"] == []
    assert any(m["kind"] == "response" for m in kept["messages"])


def test_approved_with_edits_the_tool_runs_with_the_edited_arguments(client, person):
    transfers = Transfers()
    person(lambda request: approve(request, amount=200))
    result = opensink_pydantic_ai.run_sync(transfers.agent, "pay the invoice", client=client, timeout=20)

    assert transfers.ran == [{"to": "bob", "amount": 200, "currency": "EUR"}]
    assert result.output == "Outcome: sent 200 EUR to bob"


def test_rejected_the_tool_does_not_run_and_the_model_reads_the_reason(client, person):
    transfers = Transfers()
    person(lambda request: {"decision": "reject", "comment": "Bob was paid yesterday; check the ledger."})
    result = opensink_pydantic_ai.run_sync(transfers.agent, "pay the invoice", client=client, timeout=20)

    assert transfers.ran == []
    denied = [p for p in transfers.model_saw[-1].parts if isinstance(p, ToolReturnPart)]
    assert [p.content for p in denied] == ["Bob was paid yesterday; check the ledger."]
    assert result.output == "Outcome: Bob was paid yesterday; check the ledger."


def test_async_run_asks_each_call_and_runs_only_the_approved_one(server, person):
    """Two calls in one model turn: one approved, one rejected; the run goes on with both results."""
    ran: list[str] = []
    turns: list[ModelMessage] = []

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        turns.append(messages[-1])
        if any(isinstance(p, ToolReturnPart) for p in messages[-1].parts):
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(parts=[ToolCallPart("delete", {"path": "old.log"}),
                                    ToolCallPart("delete", {"path": "/etc/passwd"})])

    agent = Agent(FunctionModel(model), name="janitor")

    @agent.tool
    async def delete(ctx: RunContext[None], path: str) -> str:
        """Delete a file."""
        if not ctx.tool_call_approved:
            raise ApprovalRequired(metadata={"why": "deleting is permanent"})
        ran.append(path)
        return f"deleted {path}"

    def decide(request: dict[str, Any]) -> dict[str, Any]:
        if request["defaults"]["path"] == "old.log":
            return approve(request)
        return {"decision": "reject", "comment": "never outside the workspace"}

    seen = person(decide, count=2)

    async def main() -> Any:
        async with AsyncClient(server.url, server.key) as client:
            return await opensink_pydantic_ai.run(agent, "tidy up", client=client, timeout=20)

    result = asyncio.run(main())
    assert ran == ["old.log"]
    assert result.output == "done"
    assert len(seen) == 2
    assert {item["title"] for item in seen[0]["context"]} >= {"Tool", "Arguments", "Metadata"}
    returns = {p.tool_call_id: p.content for p in turns[-1].parts if isinstance(p, ToolReturnPart)}
    assert sorted(returns.values()) == ["deleted old.log", "never outside the workspace"]


def test_the_run_keeps_going_across_several_pauses(client, person):
    """The model asks again after each result: every pause is a new question in the same session."""
    ran: list[int] = []

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        done = sum(isinstance(part, ToolReturnPart)
                   for message in messages if isinstance(message, ModelRequest) for part in message.parts)
        if done == 2:
            return ModelResponse(parts=[TextPart(f"ran {ran}")])
        return ModelResponse(parts=[ToolCallPart("step", {"number": done + 1})])

    agent = Agent(FunctionModel(model), name="stepper")

    @agent.tool_plain(requires_approval=True)
    def step(number: int) -> str:
        ran.append(number)
        return "ok"

    seen = person(approve, count=2)
    result = opensink_pydantic_ai.run_sync(agent, "go", client=client, timeout=20)
    assert result.output == "ran [1, 2]"
    assert [r["defaults"] for r in seen] == [{"number": 1}, {"number": 2}]
    assert seen[0]["session_id"] == seen[1]["session_id"]


RESUMABLE_AGENT = '''
import json, sys
from pydantic_ai import Agent
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import FunctionModel
from jupyter_opensink.client import Client
from jupyter_opensink.integrations import pydantic_ai as opensink_pydantic_ai

ran = []

def model(messages, info):
    returned = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)]
    if returned:
        return ModelResponse(parts=[TextPart("Outcome: " + returned[0].content)])
    return ModelResponse(parts=[TextPart("Restarting the database."),
                                ToolCallPart("restart", {"service": "db"})])

agent = Agent(FunctionModel(model), name="operator")

@agent.tool_plain(requires_approval=True)
def restart(service: str) -> str:
    ran.append(service)
    return "restarted " + service
'''


def run_script(server: Any, body: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENSINK_URL": server.url, "OPENSINK_API_KEY": server.key}
    return subprocess.run([sys.executable, "-c", RESUMABLE_AGENT + textwrap.dedent(body)],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.system  # two more Python processes, each importing Pydantic AI
def test_a_run_stopped_in_one_process_is_resumed_in_another(server, client):
    """The first process asks, waits briefly and stops; the person answers later; a second process resumes
    from the session alone (its message history and the pending request) and the tool runs there."""
    started = run_script(server, '''
        try:
            opensink_pydantic_ai.run_sync(agent, "restart the db", client=Client(), timeout=0.5)
        except TimeoutError:
            session = Client().input_requests.list(status="pending")["items"][0]["session_id"]
            print(json.dumps({"session": session, "ran": ran}))
    ''')
    assert started.returncode == 0, started.stderr
    first = json.loads(started.stdout)
    assert first["ran"] == []
    session = client.agent_sessions.get(first["session"])
    assert session["status"] == "waiting_for_input"
    [pending] = session["state"]["pydantic_ai"]["pending"]
    assert pending["tool_name"] == "restart"

    client.input_requests.resolve(pending["request_id"], decision="approve",
                                  response={"service": "db-replica"})

    resumed = run_script(server, f'''
        result = opensink_pydantic_ai.resume_sync(agent, {first["session"]!r}, client=Client(), timeout=20)
        print(json.dumps({{"output": result.output, "ran": ran}}))
    ''')
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == {"output": "Outcome: restarted db-replica", "ran": ["db-replica"]}
    done = client.agent_sessions.get(first["session"])
    assert done["status"] == "completed"
    assert done["state"]["pydantic_ai"]["pending"] == []


def test_resuming_a_session_without_a_waiting_run_says_so(client):
    agent_id = client.agents.create(name="idle")["id"]
    session = client.agent_sessions.create(agent_id=agent_id)
    with pytest.raises(ValueError, match="holds no Pydantic AI run"):
        opensink_pydantic_ai.resume_sync(Transfers().agent, session["id"], client=client)


def test_a_failing_tool_fails_the_session(client, person):
    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart("explode", {})])

    agent = Agent(FunctionModel(model), name="fragile")

    @agent.tool_plain(requires_approval=True)
    def explode() -> str:
        raise RuntimeError("the disk is full")

    seen = person(approve)
    with pytest.raises(RuntimeError, match="the disk is full"):
        opensink_pydantic_ai.run_sync(agent, "go", client=client, timeout=20)
    session = client.agent_sessions.get(seen[0]["session_id"])
    assert session["status"] == "failed"
    assert "the disk is full" in session["error_message"]


def test_in_the_run_approvals_are_answered_without_ending_the_run(server, person):
    """``InboxApprovals`` as a capability: the agent keeps its plain output type and ``agent.run_sync``
    itself waits for the person; the edited arguments reach the tool."""
    transfers = Transfers()
    inbox = opensink_pydantic_ai.InboxApprovals(AsyncClient(server.url, server.key),
                                                agent_name="in-run treasurer", timeout=20)
    seen = person(lambda request: approve(request, to="bob's company"))
    result = transfers.agent.run_sync("pay the invoice", capabilities=[inbox])

    assert result.output == "Outcome: sent 250 EUR to bob's company"
    assert transfers.ran == [{"to": "bob's company", "amount": 250, "currency": "EUR"}]
    assert seen[0]["schema"]["required"] == ["to", "amount"]
    assert {item["title"] for item in seen[0]["context"]} >= {"Tool", "Arguments", "The model said"}


def test_in_the_run_a_question_nobody_answers_expires_and_the_call_is_denied(server, client):
    transfers = Transfers(amount=9999)

    async def main() -> Any:
        async with AsyncClient(server.url, server.key) as asker:
            inbox = opensink_pydantic_ai.InboxApprovals(asker, agent_name="impatient treasurer", timeout=0.5)
            return await transfers.agent.run("pay the invoice", capabilities=[inbox])

    result = asyncio.run(main())
    assert transfers.ran == []
    assert result.output == f"Outcome: {opensink_pydantic_ai.NO_DECISION}"
    [asked] = [r for r in client.input_requests.list(order="desc", limit=10)["items"]
               if r["defaults"] == {"to": "bob", "amount": 9999, "currency": "EUR"}]
    assert asked["status"] == "expired"


def test_calls_deferred_for_outside_execution_are_left_to_the_caller(client):
    """A run that ends with a call to run elsewhere (``CallDeferred``) is returned as it is: nobody is asked,
    and the session is not completed (the caller continues the run)."""
    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart("render_video", {"scene": 3})])

    agent = Agent(FunctionModel(model), name="director")

    @agent.tool_plain
    def render_video(scene: int) -> str:
        raise CallDeferred(metadata={"queue": "gpu"})

    before = client.input_requests.list(status="pending")["items"]
    result = opensink_pydantic_ai.run_sync(agent, "render", client=client, timeout=5)

    assert isinstance(result.output, DeferredToolRequests)
    assert [c.tool_name for c in result.output.calls] == ["render_video"]
    assert client.input_requests.list(status="pending")["items"] == before
    session = next(s for s in client.agent_sessions.list(order="desc", limit=5)["items"]
                   if s["metadata"] == {"framework": "pydantic-ai"})
    assert session["status"] != "completed"
    assert session["state"]["pydantic_ai"]["pending"] == []
