"""LangGraph runs answered by a person through a real server: plain graphs stopping on ``interrupt``, and
LangChain agents whose tool calls wait for a review (``HumanInTheLoopMiddleware``), run by the fake chat
model; sync and async; a run stopped in one process and continued in another."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from operator import add
from pathlib import Path
from typing import Annotated, Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict

from jupyter_opensink.client import AsyncClient
from jupyter_opensink.integrations.langgraph import GraphApprovals

from .langgraph_graphs import FileSaver, calls, mail_agent

ROOT = Path(__file__).parents[2]
MAIL = {"to": "ada@example.com", "subject": "Quarterly numbers"}


def approve_as_proposed(request: dict[str, Any]) -> dict[str, Any]:
    return {"decision": "approve", "response": request["defaults"]}


def titles_of(context: list[dict[str, Any]]) -> list[str]:
    return [item.get("title") for item in context]


def what_the_model_read_last(model: Any) -> str:
    return "\n".join(str(message.content) for message in model.seen[-1])


# -- a graph of plain Python nodes ------------------------------------------------------------------
class Verdict(TypedDict):
    publish: bool
    headline: str


class Story(TypedDict, total=False):
    draft: str
    verdict: Verdict
    signed: str
    log: Annotated[list[str], add]


def plain_graph(checkpointer: Any = None) -> Any:
    def write(state: Story) -> dict[str, Any]:
        return {"draft": "Rates fall again", "log": ["written"]}

    def review(state: Story) -> dict[str, Any]:
        verdict = interrupt({"draft": state["draft"], "words": len(state["draft"].split())},
                            response_schema=Verdict)
        return {"verdict": verdict, "log": ["reviewed"]}

    def sign(state: Story) -> dict[str, Any]:
        return {"signed": interrupt("Who signs the story?"), "log": ["signed"]}

    graph = StateGraph(Story)
    graph.add_node("write", write)
    graph.add_node("review", review)
    graph.add_node("sign", sign)
    graph.add_edge(START, "write")
    graph.add_edge("write", "review")
    graph.add_edge("review", "sign")
    graph.add_edge("sign", END)
    return graph.compile(checkpointer=checkpointer or InMemorySaver())


def test_a_plain_graph_runs_through_its_interrupts(client, person):
    def editor(request: dict[str, Any]) -> dict[str, Any]:
        if "headline" in request["schema"]["properties"]:
            return {"response": {"publish": True, "headline": "Rates fall for the third month"}}
        return {"response": {"answer": "Grace"}}

    seen = person(editor, count=2)
    runner = GraphApprovals(plain_graph(), client=client, agent="newsroom", timeout=20)
    result = runner.invoke({"log": []})

    assert result["verdict"] == {"publish": True, "headline": "Rates fall for the third month"}
    assert result["signed"] == "Grace"
    assert result["log"] == ["written", "reviewed", "signed"]
    review, sign = seen
    # The interrupt's response_schema is the form; its value is the evidence.
    assert set(review["schema"]["properties"]) == {"publish", "headline"}
    assert review["context"][0]["data"]["application/json"] == {"draft": "Rates fall again", "words": 3}
    assert review["decisions"] is None
    # A question in words: the text answers it.
    assert sign["title"] == "Who signs the story?" and sign["message"] == "Who signs the story?"
    session = client.agent_sessions.get(runner.session_id)
    assert session["status"] == "completed"
    assert session["state"]["langgraph"]["thread_id"] and session["state"]["langgraph"]["asked"] == {}


# -- an agent's tool calls reviewed (HumanInTheLoopMiddleware, batched) ------------------------------
def test_approved_as_proposed_the_tool_runs_with_the_models_arguments(client, person):
    sent: list[dict[str, Any]] = []
    agent, model = mail_agent([calls(("send_email", MAIL)), "Sent."], sent=sent)
    seen = person(approve_as_proposed)

    result = GraphApprovals(agent, client=client, agent="mailer", timeout=20).invoke(
        {"messages": [{"role": "user", "content": "Mail Ada the numbers"}]})

    assert sent == [{**MAIL, "urgent": False}]
    assert result["messages"][-1].content == "Sent."
    request = seen[0]
    assert request["title"] == "Run send_email?"
    assert request["defaults"] == MAIL
    assert request["decisions"] == ["approve", "reject", "respond"]
    assert set(request["schema"]["properties"]) == {"to", "subject", "urgent"}  # the tool's own schema
    assert titles_of(request["context"]) == ["Tool", "Arguments", "What the model said"]
    assert request["context"][0]["data"]["text/plain"] == "send_email: Send an email to one address."
    assert request["context"][2]["data"]["text/plain"] == "I will send the mail."
    assert "send_email" in request["message"]
    assert "reviewer" not in what_the_model_read_last(model)  # approved as proposed: no edit notice


def test_an_edit_runs_the_tool_with_the_edited_arguments(client, person):
    sent: list[dict[str, Any]] = []
    agent, model = mail_agent([calls(("send_email", MAIL)), "Sent."], sent=sent)
    person(lambda request: {"decision": "approve",
                            "response": {**request["defaults"], "subject": "Q3 numbers", "urgent": True}})

    GraphApprovals(agent, client=client, timeout=20).invoke(
        {"messages": [{"role": "user", "content": "Mail Ada the numbers"}]})

    assert sent == [{"to": "ada@example.com", "subject": "Q3 numbers", "urgent": True}]
    assert '"subject": "Q3 numbers"' in what_the_model_read_last(model)  # told what ran instead


def test_a_rejection_skips_the_tool_and_the_model_reads_the_reason(client, person):
    sent: list[dict[str, Any]] = []
    agent, model = mail_agent([calls(("send_email", MAIL)), "Understood, not sent."], sent=sent)
    person(lambda request: {"decision": "reject", "comment": "Ada is on leave until Monday"})

    runner = GraphApprovals(agent, client=client, timeout=20)
    result = runner.invoke({"messages": [{"role": "user", "content": "Mail Ada the numbers"}]})

    assert sent == []
    assert "Ada is on leave until Monday" in what_the_model_read_last(model)
    assert result["messages"][-1].content == "Understood, not sent."
    assert client.agent_sessions.get(runner.session_id)["status"] == "completed"


def test_a_reply_stands_in_for_the_tools_result(client, person):
    sent: list[dict[str, Any]] = []
    agent, model = mail_agent([calls(("send_email", MAIL)), "Noted."], sent=sent)
    person(lambda request: {"decision": "respond", "comment": "I told Ada in person"})

    GraphApprovals(agent, client=client, timeout=20).invoke({"messages": [{"role": "user", "content": "Mail Ada"}]})

    assert sent == []
    tool_result = model.seen[-1][-1]
    assert tool_result.type == "tool" and tool_result.content == "I told Ada in person"


def test_each_call_of_a_turn_is_its_own_request_and_answered_in_order(client, person):
    sent: list[dict[str, Any]] = []
    turn = calls(("send_email", MAIL), ("archive", {"folder": "2024"}), said="Mail, then tidy up.")
    agent, model = mail_agent([turn, "Done."], sent=sent,
                              interrupt_on={"allowed_decisions": ["approve", "reject"]})
    seen = person(lambda request: approve_as_proposed(request) if "send_email" in request["title"]
                  else {"decision": "reject", "comment": "keep 2024"}, count=2)

    GraphApprovals(agent, client=client, timeout=20).invoke({"messages": [{"role": "user", "content": "Go"}]})

    assert sent == [{**MAIL, "urgent": False}]
    assert sorted(r["title"] for r in seen) == ["Run archive? (2 of 2)", "Run send_email? (1 of 2)"]
    # No edit allowed: the arguments are shown and proposed, not offered as fields.
    assert all(r["decisions"] == ["approve", "reject"] and r["schema"]["properties"] == {} for r in seen)
    assert "keep 2024" in what_the_model_read_last(model)


# -- per-call mode, async ---------------------------------------------------------------------------
def test_per_call_reviews_run_async(server, person):
    sent: list[dict[str, Any]] = []
    agent, model = mail_agent([calls(("send_email", MAIL)), calls(("archive", {"folder": "old"})), "Done."],
                              sent=sent, mode="per_call")
    seen = person(lambda request: {"decision": "approve", "response": {**request["defaults"], "to": "bo@example.com"}}
                  if "send_email" in request["title"] else {"decision": "reject", "comment": "not today"}, count=2)

    async def main() -> Any:
        async with AsyncClient(server.url, server.key) as client:
            runner = GraphApprovals(agent, client=client, timeout=20)
            result = await runner.ainvoke({"messages": [{"role": "user", "content": "Mail Bo, then archive"}]})
            return result, await client.agent_sessions.get(runner.session_id)

    result, session = asyncio.run(main())

    assert sent == [{"to": "bo@example.com", "subject": "Quarterly numbers", "urgent": False}]
    assert "not today" in what_the_model_read_last(model)
    assert result["messages"][-1].content == "Done."
    # The interrupt's own schema gives the decisions and the arguments' form.
    assert seen[0]["decisions"] == ["approve", "reject", "respond"]
    assert set(seen[0]["schema"]["properties"]) == {"to", "subject", "urgent"}
    assert session["status"] == "completed"


def test_the_clients_kind_must_match_the_call(client):
    with pytest.raises(TypeError, match="AsyncClient"):
        asyncio.run(GraphApprovals(plain_graph(), client=client).ainvoke({"log": []}))


# -- stopped in one process, continued in another -----------------------------------------------------
def test_a_run_stopped_in_one_process_is_resumed_in_another(server, client, person, tmp_path):
    """The first process asks and gives up waiting; this one answers, and continues the run from the
    shared checkpointer with nothing asked twice."""
    saved = tmp_path / "checkpoints.pickle"
    script = textwrap.dedent(f"""
        from pathlib import Path
        from jupyter_opensink.client import Client
        from jupyter_opensink.integrations.langgraph import GraphApprovals
        from tests.integrations.langgraph_graphs import FileSaver, calls, mail_agent

        sent = []
        agent, _ = mail_agent([calls(("send_email", {MAIL!r}))], sent=sent, checkpointer=FileSaver(Path({str(saved)!r})))
        runner = GraphApprovals(agent, client=Client(), agent="mailer", timeout=0.5)
        try:
            runner.invoke({{"messages": [{{"role": "user", "content": "Mail Ada"}}]}})
        except TimeoutError:
            print(runner.session_id)
        assert sent == []
    """)
    env = {**os.environ, "OPENSINK_URL": server.url, "OPENSINK_API_KEY": server.key,
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env,
                           cwd=ROOT)
    assert first.returncode == 0, first.stderr
    session_id = first.stdout.strip()
    session = client.agent_sessions.get(session_id)
    assert session["status"] == "waiting_for_input"
    [asked] = session["state"]["langgraph"]["asked"].values()

    person(lambda request: {"decision": "approve", "response": {**request["defaults"], "subject": "Resumed"}})
    sent: list[dict[str, Any]] = []
    agent, model = mail_agent(["Sent after all."], sent=sent, checkpointer=FileSaver(saved))
    result = GraphApprovals(agent, client=client, timeout=20).resume(session_id)

    assert sent == [{"to": "ada@example.com", "subject": "Resumed", "urgent": False}]
    assert result["messages"][-1].content == "Sent after all."
    requests = client.input_requests.list(session_id=session_id)["items"]
    assert [r["id"] for r in requests] == asked  # the question asked there was the one answered
    assert client.agent_sessions.get(session_id)["status"] == "completed"


def test_arguments_the_tools_schema_refuses_are_still_put_to_the_person(client, person):
    """A model may leave out a required argument: the server refuses such a proposal against the tool's
    schema, so it is asked with a form made from the proposal itself."""
    sent: list[dict[str, Any]] = []
    agent, model = mail_agent([calls(("send_email", {"to": "ada@example.com"})), "Fine."], sent=sent)
    seen = person(lambda request: {"decision": "reject", "comment": "a mail needs a subject"})

    GraphApprovals(agent, client=client, timeout=20).invoke({"messages": [{"role": "user", "content": "Mail Ada"}]})

    assert sent == []
    assert seen[0]["defaults"] == {"to": "ada@example.com"}
    assert set(seen[0]["schema"]["properties"]) == {"to"}
    assert "a mail needs a subject" in what_the_model_read_last(model)
