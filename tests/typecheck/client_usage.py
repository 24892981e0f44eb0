"""Type-checked, never run: what a type checker sees of the client's results.

tests/test_client_types.py runs mypy (strict) on this file. Each line ending in
``# error: <code>`` must be reported with that code, and nothing else may be.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator

from typing_extensions import assert_type

from jupyter_opensink.client import AsyncClient, Client
from jupyter_opensink.client.types import (Agent, AgentWithSecret, Discovery, InputRequest, ManyItems,
                                           NewApprovalLink, Page, State)


def sync(client: Client) -> None:
    request = client.input_requests.get("id")
    assert_type(request, InputRequest)
    assert_type(client.input_requests.list(status="pending"), Page[InputRequest])
    assert_type(client.input_requests.iter(), Iterator[InputRequest])
    assert_type(client.input_requests.create_link("id", note="for Sam"), NewApprovalLink)
    assert_type(client.wait_for_resolution("id", timeout=5), InputRequest)
    assert_type(client.agents.create(name="bot"), AgentWithSecret)
    assert_type(client.agents.get("id"), Agent)
    assert_type(client.sink_items.many([]), ManyItems)
    assert_type(client.states.put("memory", "plan", {"step": 1}), State)
    assert_type(client.discovery(), Discovery)
    status: str = request["status"]
    request["stauts"]  # error: typeddict-item
    client.input_requests.get(42)  # error: arg-type


async def asynchronous(client: AsyncClient) -> None:
    assert_type(client.input_requests.get("id"), Awaitable[InputRequest])
    assert_type(client.input_requests.iter(), AsyncIterator[InputRequest])
    page = await client.input_requests.list()
    assert_type(page, Page[InputRequest])
    request = await client.wait_for_resolution("id")
    assert_type(request, InputRequest)
    page["items"][0]["respnose"]  # error: typeddict-item
