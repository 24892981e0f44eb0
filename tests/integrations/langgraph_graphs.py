"""The LangGraph graphs the adapter's tests run (here so that a second process can build the same ones).

No model provider is reachable: the agents think with LangChain's fake chat model, scripted with the
messages it answers in turn, and each records what it was given so a test can read what the model saw.
"""

from __future__ import annotations

import pickle
import threading
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver


class ScriptedModel(GenericFakeChatModel):
    """The fake chat model, able to take tools (it ignores them: its answers are scripted) and keeping
    the messages of each call in ``seen``."""

    seen: list[list[BaseMessage]] = []

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def calls(*calls: tuple[str, dict[str, Any]], said: str = "I will send the mail.") -> AIMessage:
    """A model turn calling tools: ``(name, args)`` each."""
    return AIMessage(content=said, tool_calls=[{"name": name, "args": args, "id": f"call-{i}"}
                                              for i, (name, args) in enumerate(calls)])


def mail_agent(script: list[AIMessage | str], *, sent: list[dict[str, Any]], checkpointer: Any = None,
               interrupt_on: Any = True, mode: str = "batched") -> tuple[Any, ScriptedModel]:
    """An agent whose ``send_email`` tool needs a person's review (``sent`` collects each mail it sends)."""

    @tool
    def send_email(to: str, subject: str, urgent: bool = False) -> str:
        """Send an email to one address."""
        sent.append({"to": to, "subject": subject, "urgent": urgent})
        return f"sent to {to}"

    @tool
    def archive(folder: str) -> str:
        """Archive a mail folder."""
        sent.append({"archived": folder})
        return f"archived {folder}"

    model = ScriptedModel(messages=iter(script), seen=[])
    agent = create_agent(model, tools=[send_email, archive], checkpointer=checkpointer or InMemorySaver(),
                         middleware=[HumanInTheLoopMiddleware(
                             interrupt_on={"send_email": interrupt_on, "archive": interrupt_on},
                             interrupt_mode=mode)])
    return agent, model


class FileSaver(InMemorySaver):
    """A checkpointer two processes share through one file: the in-memory saver's contents, written after
    every change and read when made. (A test's stand-in for a database saver; one process writes at a time.)
    LangGraph saves from background threads: each change and its write happen under one lock, or a write
    of an older snapshot could land after a newer one."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self.lock = threading.Lock()
        if path.exists():
            storage, writes, blobs = pickle.loads(path.read_bytes())
            for thread, spaces in storage.items():
                for namespace, checkpoints in spaces.items():
                    self.storage[thread][namespace].update(checkpoints)
            self.writes.update(writes)
            self.blobs.update(blobs)

    def _save(self) -> None:
        storage = {thread: {ns: dict(cps) for ns, cps in spaces.items()} for thread, spaces in self.storage.items()}
        self.path.write_bytes(pickle.dumps((storage, dict(self.writes), dict(self.blobs))))

    def put(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            done = super().put(*args, **kwargs)
            self._save()
            return done

    def put_writes(self, *args: Any, **kwargs: Any) -> None:
        with self.lock:
            super().put_writes(*args, **kwargs)
            self._save()
