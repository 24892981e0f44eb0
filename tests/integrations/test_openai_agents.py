"""The OpenAI Agents SDK's tool approvals, answered by a person through a real server.

The agent is a real SDK ``Agent`` with a ``needs_approval`` function tool; its model is a scripted stand-in
for the SDK's ``Model`` (no provider is reachable) that records what it is given each turn, so a test can
see what the model read after a person decided.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import Agent, ModelResponse, Usage, function_tool, set_tracing_disabled  # noqa: E402
from agents.models.interface import Model  # noqa: E402
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText  # noqa: E402

from jupyter_opensink.client import AsyncClient  # noqa: E402
from jupyter_opensink.integrations.openai_agents import (FRAMEWORK, ApprovalPending, aresume, arun,  # noqa: E402
                                                         resume, run)

set_tracing_disabled(True)  # nothing leaves the machine

ROOT = Path(__file__).resolve().parents[2]


class ScriptedModel(Model):
    """Answers each turn with the next scripted output items and keeps the input it was given."""

    def __init__(self, *turns: list[Any]):
        self.turns = list(turns)
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions, input, model_settings, tools, output_schema, handoffs,
                           tracing, **_: Any) -> ModelResponse:
        self.inputs.append(input)
        return ModelResponse(output=self.turns.pop(0), usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any):
        raise NotImplementedError("the tests run the model without streaming")

    def outputs_read(self, turn: int) -> dict[str, str]:
        """The tool outputs the model read at ``turn`` (0: the first), by call id, all turns' so far."""
        return {item["call_id"]: item["output"] for item in self.inputs[turn]
                if isinstance(item, dict) and item.get("type") == "function_call_output"}


def calls(tool: str, call_id: str, **arguments: Any) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(type="function_call", call_id=call_id, name=tool, id=f"fc_{call_id}",
                                    arguments=json.dumps(arguments), status="completed")


def says(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(type="message", id=f"msg_{abs(hash(text))}", role="assistant", status="completed",
                                 content=[ResponseOutputText(type="output_text", text=text, annotations=[])])


def bank(*turns: list[Any]) -> tuple[Agent, ScriptedModel, list[tuple[str, int]]]:
    """A payments agent whose ``pay`` tool needs approval; returns it, its model and the payments made."""
    paid: list[tuple[str, int]] = []

    @function_tool(needs_approval=True)
    def pay(account: str, amount: int) -> str:
        """Pay an amount (in euros) to an account."""
        paid.append((account, amount))
        return f"paid {amount} EUR to {account}"

    model = ScriptedModel(*turns)
    return Agent(name="payments", instructions="Pay what you are asked to.", tools=[pay], model=model), model, paid


def approve_as_proposed(request: dict[str, Any]) -> dict[str, Any]:
    return {"decision": "approve", "response": request["defaults"]}


def test_an_approved_call_runs_with_the_proposed_arguments(client, person):
    agent, model, paid = bank([says("I will pay Alice."), calls("pay", "c1", account="alice", amount=5)],
                              [says("Paid Alice 5 EUR.")])
    seen = person(approve_as_proposed)

    result = run(agent, "Pay Alice 5 euros", client=client, timeout=20)

    assert paid == [("alice", 5)]
    assert result.final_output == "Paid Alice 5 EUR."
    assert model.outputs_read(1) == {"c1": "paid 5 EUR to alice"}
    [request] = seen
    assert request["title"] == "Run pay?"
    assert request["message"] == "Pay an amount (in euros) to an account."
    assert request["defaults"] == {"account": "alice", "amount": 5}
    assert request["decisions"] == ["approve", "reject"]
    assert set(request["schema"]["properties"]) == {"account", "amount"}
    shown = {item.get("title"): item["data"] for item in request["context"]}
    assert shown["Arguments"] == {"application/json": {"account": "alice", "amount": 5}}
    assert shown["The model said"] == {"text/plain": "I will pay Alice."}
    assert shown["Tool"]["text/plain"].startswith("pay: Pay an amount")
    session = client.agent_sessions.get(request["session_id"])
    assert session["status"] == "completed"
    assert session["state"] == {"framework": FRAMEWORK, "final_output": "Paid Alice 5 EUR."}


def test_a_rejected_call_does_not_run_and_the_model_reads_the_reason(client, person):
    agent, model, paid = bank([calls("pay", "c1", account="alice", amount=500)], [says("I did not pay.")])
    person(lambda request: {"decision": "reject", "comment": "Over the daily limit of 100 EUR."})

    result = run(agent, "Pay Alice 500 euros", client=client, timeout=20)

    assert paid == []
    assert model.outputs_read(1) == {"c1": "Over the daily limit of 100 EUR."}
    assert result.final_output == "I did not pay."


def test_an_edited_approval_runs_the_edited_call_without_asking_again(client, person):
    agent, model, paid = bank([calls("pay", "c1", account="alice", amount=500)],
                              [calls("pay", "c2", account="alice", amount=100)],  # the model makes the correction
                              [says("Paid Alice 100 EUR.")])
    seen = person(lambda request: {"decision": "approve", "response": {"account": "alice", "amount": 100},
                                   "comment": "100 is the limit"})

    run(agent, "Pay Alice 500 euros", client=client, timeout=20)

    assert paid == [("alice", 100)]
    correction = model.outputs_read(1)["c1"]
    assert '{"account": "alice", "amount": 100}' in correction and "100 is the limit" in correction
    assert model.outputs_read(2)["c2"] == "paid 100 EUR to alice"
    [request] = seen
    assert request["status"] == "pending"  # as the person saw it
    asked = client.input_requests.list(session_id=request["session_id"])["items"]
    assert [r["changes"] for r in asked] == [[{"op": "replace", "path": "/amount", "value": 100}]]


def test_a_call_other_than_the_edited_one_is_asked_about(client, person):
    agent, model, paid = bank([calls("pay", "c1", account="alice", amount=500)],
                              [calls("pay", "c2", account="alice", amount=200)],  # not what was approved
                              [says("Nothing paid.")])
    seen = person(lambda request: {"decision": "approve", "response": {"account": "alice", "amount": 100}}
                  if request["defaults"]["amount"] == 500 else {"decision": "reject", "comment": "No."}, count=2)

    run(agent, "Pay Alice 500 euros", client=client, timeout=20)

    assert paid == []
    assert model.outputs_read(2)["c2"] == "No."
    assert [request["defaults"]["amount"] for request in seen] == [500, 200]


def test_async_parallel_calls_are_each_decided(server, person):
    agent, model, paid = bank([calls("pay", "c1", account="alice", amount=5), calls("pay", "c2", account="bob", amount=7)],
                              [says("Paid Alice; Bob was refused.")])
    seen = person(lambda request: approve_as_proposed(request) if request["defaults"]["account"] == "alice"
                  else {"decision": "reject", "comment": "Bob is not a customer."}, count=2)

    async def main() -> Any:
        async with AsyncClient(server.url, server.key) as client:
            return await arun(agent, "Pay Alice 5 and Bob 7", client=client, timeout=20)

    result = asyncio.run(main())

    assert paid == [("alice", 5)]
    assert model.outputs_read(1) == {"c1": "paid 5 EUR to alice", "c2": "Bob is not a customer."}
    assert result.final_output == "Paid Alice; Bob was refused."
    assert len({request["session_id"] for request in seen}) == 1


def test_a_paused_run_is_resumed_after_an_answer_came_late(server, client):
    agent, _, paid = bank([calls("pay", "c1", account="alice", amount=5)])

    with pytest.raises(ApprovalPending) as paused:
        run(agent, "Pay Alice 5 euros", client=client, timeout=0.5)

    session = client.agent_sessions.get(paused.value.session_id)
    assert session["status"] == "waiting_for_input"
    assert session["state"]["framework"] == FRAMEWORK and session["state"]["run_state"]
    client.input_requests.resolve(paused.value.request_id, decision="reject", comment="Not today.")
    later, model, paid = bank([says("Not paid.")])

    async def main() -> Any:
        async with AsyncClient(server.url, server.key) as c:
            return await aresume(later, session["id"], client=c, timeout=20)

    result = asyncio.run(main())

    assert paid == [] and result.final_output == "Not paid."
    assert model.outputs_read(0) == {"c1": "Not today."}
    assert client.agent_sessions.get(session["id"])["status"] == "completed"


#: The first half of a run, in a process of its own: it asks, and stops before an answer comes.
STARTS_AND_STOPS = """
import sys
from tests.integrations.test_openai_agents import bank, calls
from jupyter_opensink.client import Client
from jupyter_opensink.integrations.openai_agents import ApprovalPending, run

agent, _, _ = bank([calls("pay", "c1", account="alice", amount=5)])
try:
    run(agent, "Pay Alice 5 euros", client=Client(sys.argv[1], sys.argv[2]), timeout=0.2)
except ApprovalPending as paused:
    print(paused.session_id)
"""


@pytest.mark.system
def test_a_run_stopped_in_one_process_is_finished_in_another(server, client, person):
    started = subprocess.run([sys.executable, "-c", STARTS_AND_STOPS, server.url, server.key], cwd=ROOT,
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert started.returncode == 0, started.stderr
    session_id = started.stdout.strip()
    assert client.agent_sessions.get(session_id)["status"] == "waiting_for_input"
    person(approve_as_proposed)
    agent, model, paid = bank([says("Paid Alice 5 EUR.")])

    result = resume(agent, session_id, client=client, timeout=20)

    assert paid == [("alice", 5)]
    assert model.outputs_read(0) == {"c1": "paid 5 EUR to alice"}
    assert result.final_output == "Paid Alice 5 EUR."
    assert client.agent_sessions.get(session_id)["status"] == "completed"
