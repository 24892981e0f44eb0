"""MCP tool calls on the services (no server; the endpoint itself, and an unknown sink's 404 there and over
HTTP: tests/api/test_mcp.py): a refused call is a tool error carrying the HTTP API's message and status."""

from __future__ import annotations

import json

import pytest

from jupyter_opensink.api.paging import encode_trail
from jupyter_opensink.api.validation import parse_body
from jupyter_opensink.errors import Invalid
from jupyter_opensink.mcp.tools import TOOLS_BY_NAME, ToolCall
from jupyter_opensink.models.sinks import ItemCreate
from jupyter_opensink.services.access import Principal


def call(services, workspace_id: str) -> ToolCall:
    key = Principal(workspace_id=workspace_id, is_user=False, scopes=("sink_items:all",), key_id="k")
    return ToolCall(principal=key, services=services, client_name="tester", max_wait=60)


def tool_error(result) -> tuple[str, int]:
    assert result.is_error, result
    assert result.structured_content["error"] == result.content[0].text
    return result.structured_content["error"], result.structured_content["status"]


@pytest.mark.parametrize("services", ["tinydb"], indirect=True)  # refused before any store is asked
@pytest.mark.parametrize("arguments, expected", [
    pytest.param({"sink_id": "s"}, "title is required", id="no-title"),
    pytest.param({"sink_id": "s", "title": "t", "colour": "red"}, "unknown field: colour",
                 id="unknown-field"),
    pytest.param({"sink_id": "s", "title": "t", "url": "ftp://x"}, "url: must be an http or https URL",
                 id="ftp-url"),
])
async def test_write_item_argument_errors_are_the_bodys(services, workspace_id, arguments, expected):
    with pytest.raises(Invalid) as refused:  # the same arguments as an HTTP body
        parse_body(ItemCreate, json.dumps(arguments).encode())
    assert refused.value.message == expected
    result = await TOOLS_BY_NAME["write_item"].call(call(services, workspace_id), arguments)
    assert tool_error(result) == (expected, 400)


@pytest.mark.parametrize("services", ["tinydb"], indirect=True)  # refused before any store is asked
@pytest.mark.parametrize("trail, expected", [
    pytest.param("garbage!!", "$trail is malformed: pass back the trail of the previous page unchanged",
                 id="malformed"),
    pytest.param(encode_trail("x", "asc"), "$trail belongs to a listing in the other $order",
                 id="other-order"),
])
async def test_search_items_reads_a_trail_as_a_listing_does(services, workspace_id, trail, expected):
    result = await TOOLS_BY_NAME["search_items"].call(call(services, workspace_id), {"trail": trail})
    assert tool_error(result) == (expected, 400)
