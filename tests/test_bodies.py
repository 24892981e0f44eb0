"""Request bodies against their models, and paging parameters, one case each (no server): the messages a
caller gets in a 400.

The HTTP tests (tests/api/test_sinks.py) keep one case of each route to show the 400 reaches the caller.
"""

from __future__ import annotations

import json

import pytest

from jupyter_opensink.api.paging import PageQuery, encode_trail, paged_query
from jupyter_opensink.api.validation import parse_body, parse_query
from jupyter_opensink.errors import Invalid
from jupyter_opensink.models.agents import ActivityCreate, AgentCreate, InputRequestCreate
from jupyter_opensink.models.keys import ApiKeyCreate
from jupyter_opensink.models.links import LinkCreate
from jupyter_opensink.models.sinks import ItemCreate, ItemFilters, ItemsBulk, ItemsMany, SinkCreate
from jupyter_opensink.models.webhooks import WebhookCreate
from jupyter_opensink.models.workspaces import WorkspaceCreate

ITEM = {"sink_id": "s", "title": "t"}


def refusal(model, body) -> str:
    """The 400's message for ``body`` (a JSON value, or raw bytes) sent as ``model``."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(Invalid) as refused:
        parse_body(model, raw)
    return refused.value.message


@pytest.mark.parametrize("body, expected", [
    ({}, "name is required"), ({"name": ""}, "name:"), ({"name": "x" * 256}, "name:"),
    ({"name": "a", "color": "teal"}, "color:"), ({"name": "a", "is_public": "yes"}, "is_public:"),
    ({"name": "a", "public_slug": "has space"}, "public_slug:"), ({"name": "a", "secret": "mine"}, "unknown field"),
])
def test_invalid_sinks(body, expected):
    assert expected in refusal(SinkCreate, body)


@pytest.mark.parametrize("body, expected", [
    ({"sink_id": "s"}, "title is required"),
    ({**ITEM, "title": ""}, "title:"), ({**ITEM, "title": "x" * 256}, "title:"),
    ({**ITEM, "url": "ftp://example.com/x"}, "url:"), ({**ITEM, "url": "https://x/" + "a" * 2050}, "url:"),
    ({**ITEM, "fields": [1, 2]}, "fields:"), ({**ITEM, "fields": "text"}, "fields:"),
    ({**ITEM, "resources": [{"type": "file", "label": "x", "url": "https://a"}]}, "resources.0.type"),
    ({**ITEM, "resources": [{"type": "link", "url": "https://a"}]}, "resources.0.label is required"),
    ({**ITEM, "resources": [{"type": "link", "label": "x", "url": "javascript:alert(1)"}]}, "resources.0.url"),
    ({**ITEM, "occurred_at": "yesterday"}, "occurred_at:"), ({**ITEM, "title": 7}, "title:"),
    ({**ITEM, "priority": 1}, "unknown field: priority"), ({"title": "t"}, "sink_id is required"),
])
def test_invalid_items(body, expected):
    assert expected in refusal(ItemCreate, body)


@pytest.mark.parametrize("endpoint, expected", [
    ({"url": "ftp://x.example"}, "execution_endpoint.url"),
    ({"url": "https://x.example", "method": "PATCH"}, "execution_endpoint.method"),
    ({"url": "https://x.example", "headers": {"X-N": 5}}, "execution_endpoint.headers"),
    ({"url": "https://x.example", "headers": {"bad header": "v"}}, "execution_endpoint.headers"),
    ({"url": "https://x.example", "headers": {"X-A": "v\r\nX-Injected: 1"}}, "execution_endpoint.headers"),
    ({"url": "https://x.example", "headers": {"X-A": "v\nGET / HTTP/1.1"}}, "execution_endpoint.headers"),
    ({"url": "https://x.example", "body": [1]}, "execution_endpoint.body"),
    ({"method": "POST"}, "execution_endpoint.url is required"),
    ({"url": "https://x.example", "timeout": 3}, "unknown field: execution_endpoint.timeout"),
])
def test_invalid_execution_endpoints(endpoint, expected):
    assert expected in refusal(AgentCreate, {"name": "a", "execution_endpoint": endpoint})


REQUEST = {"session_id": "s", "agent_id": "a", "key": "k", "title": "t", "message": "m", "schema": {"type": "object"}}


@pytest.mark.parametrize("body, expected", [
    ({k: v for k, v in REQUEST.items() if k != "key"}, "key is required"),
    ({**REQUEST, "title": ""}, "title:"),
    ({k: v for k, v in REQUEST.items() if k != "agent_id"}, "agent_id is required"),
])
def test_invalid_input_requests(body, expected):
    assert expected in refusal(InputRequestCreate, body)


@pytest.mark.parametrize("body, expected", [
    pytest.param({"items": []}, "items:", id="no-items"),
    pytest.param({"items": [{}] * 1001}, "items:", id="1001-items"),
    pytest.param({}, "items is required", id="nothing"),
])
def test_invalid_many_items(body, expected):
    assert expected in refusal(ItemsMany, body)


@pytest.mark.parametrize("body, expected", [
    pytest.param([], "the request body: List should have at least 1 item", id="no-items"),
    pytest.param([{}] * 1001, "the request body: List should have at most 1000 items", id="1001-items"),
    pytest.param({"items": [{}]}, "the request body must be a JSON array", id="the-many-form"),
    pytest.param(b"", "the request body must be a JSON array", id="nothing"),
    pytest.param(b"null", "the request body must be a JSON array", id="null"),
])
def test_invalid_bulk_items(body, expected):
    """/sink-items/bulk: the items of /many as the body itself (each item is checked by the service)."""
    assert refusal(ItemsBulk, body).startswith(expected)


@pytest.mark.parametrize("expires_in", [59, 7 * 86400 + 1, "3600", 3600.5, True], ids=repr)
def test_invalid_link_lifetimes(expires_in):
    assert refusal(LinkCreate, {"expires_in": expires_in}).startswith("expires_in")


ACTION = {"type": "create_item", "sink_id": "s", "title": "/t"}


@pytest.mark.parametrize("body, expected", [
    pytest.param({"path": "a/b", "action": ACTION}, "path:", id="path-with-a-slash"),
    pytest.param({"path": "p", "action": {**ACTION, "title": "no-slash"}}, "action.create_item.title:",
                 id="title-no-pointer"),
    pytest.param({"path": "p", "action": {"type": "delete_everything"}}, "action:", id="unknown-action"),
    pytest.param({"path": "p", "action": ACTION, "secret": "short"}, "secret:", id="short-secret"),
    pytest.param({"path": "p", "action": ACTION, "dedup": {"key": "/id", "ttl_seconds": 0}},
                 "dedup.ttl_seconds:", id="dedup-for-0-s"),
])
def test_invalid_webhooks(body, expected):
    """(The valid definition each case spoils is accepted: tests/api/test_webhooks.py creates it.)"""
    assert refusal(WebhookCreate, body).startswith(expected)


@pytest.mark.parametrize("body, expected", [
    pytest.param({"session_id": "s", "type": "message", "source": "system"}, "source:", id="source-system"),
    pytest.param({"session_id": "s", "type": "shout"}, "type:", id="type-shout"),
    pytest.param({"session_id": "s"}, "type is required", id="no-type"),
])
def test_invalid_activities(body, expected):
    """(Which types the server alone writes, and whose session it is: tests/services/test_sessions.py.)"""
    assert expected in refusal(ActivityCreate, body)


@pytest.mark.parametrize("raw, expected", [
    (b"{not json", "not valid JSON"), (b"[1, 2]", "must be a JSON object"), (b'"text"', "must be a JSON object"),
    (b"", "must be a JSON object"), (b"null", "must be a JSON object"),
])
def test_malformed_and_non_object_bodies(raw, expected):
    assert expected in refusal(WorkspaceCreate, raw)


@pytest.mark.parametrize("body, expected", [
    ({"name": "x", "expires_at": "2030-01-01T00:00:00"}, "expires_at"),  # no timezone
    ({"name": "x", "scopes": "all:all"}, "scopes"), ({"name": ""}, "name"), ({"name": "x" * 256}, "name"),
    ({}, "name is required"), ({"name": "x", "colour": "red"}, "unknown field: colour"),
])
def test_invalid_api_keys(body, expected):
    assert expected in refusal(ApiKeyCreate, body)


LIMIT = "$limit must be an integer from 1 to 500"
MALFORMED = "$trail is malformed: pass back the trail of the previous page unchanged"


def sent(params: dict[str, str], *expected: object) -> object:
    """A case named after its query string (a long value cut short)."""
    shown = "&".join(f"{name}={value if len(value) < 20 else value[:8] + '...'}" for name, value in params.items())
    return pytest.param(params, *expected, id=shown or "nothing")


@pytest.mark.parametrize("params, expected", [
    sent({"$limit": "0"}, LIMIT), sent({"$limit": "501"}, LIMIT), sent({"$limit": "ten"}, LIMIT),
    sent({"$limit": ""}, LIMIT), sent({"$limit": " 5"}, LIMIT), sent({"$limit": "+5"}, LIMIT),
    sent({"$limit": "5.0"}, LIMIT), sent({"$limit": "²"}, LIMIT), sent({"$limit": "0050"}, LIMIT),
    sent({"$limit": "9" * 5000}, LIMIT),
    sent({"$order": "up"}, "$order must be asc or desc"), sent({"$order": "DESC"}, "$order must be asc or desc"),
    sent({"$trail": "garbage!!"}, MALFORMED), sent({"$trail": "WyJhc2MiLDVd"}, MALFORMED),  # ["asc",5]: no id
    sent({"$trail": encode_trail("x", "asc")}, "$trail belongs to a listing in the other $order"),
    sent({"$trail": encode_trail("x", "desc"), "$order": "asc"}, "$trail belongs to a listing in the other $order"),
    sent({"$order": "up", "$trail": "garbage!!"}, "$order must be asc or desc"),  # a trail is read in its order
    sent({"$limit": "0", "$order": "up"}, f"{LIMIT}; $order must be asc or desc"),
])
def test_invalid_paging(params, expected):
    """Paging's 400 messages, word for word: every listing's query model adds these parameters."""
    with pytest.raises(Invalid) as refused:
        parse_query(PageQuery, params.get)
    assert refused.value.message == expected


@pytest.mark.parametrize("params, limit, after, order", [
    sent({}, 50, None, "desc"), sent({"$limit": "1"}, 1, None, "desc"),
    sent({"$limit": "500", "$order": "asc"}, 500, None, "asc"),
    sent({"$order": "", "$trail": ""}, 50, None, "desc"),  # sent empty: as if not sent
    sent({"$trail": encode_trail("0190-id", "desc")}, 50, "0190-id", "desc"),
    sent({"$trail": encode_trail("0190-id", "asc"), "$order": "asc", "$limit": "007"}, 7, "0190-id", "asc"),
    sent({"$limit": "5", "unknown": "x", "$other": "y"}, 5, None, "desc"),  # undeclared ones are ignored
])
def test_paging_parameters(params, limit, after, order):
    paging = parse_query(PageQuery, params.get)
    assert (paging.limit, paging.after, paging.order) == (limit, after, order)
    assert paging.filters() == {}  # paging is no filter


def test_a_listings_query_model_holds_its_filters_and_paging():
    query = parse_query(paged_query(ItemFilters), {"sink_id": "s", "$limit": "3", "$order": "asc"}.get)
    assert isinstance(query, ItemFilters) and (query.sink_id, query.limit, query.order) == ("s", 3, "asc")
    assert query.filters() == {"sink_id": "s", "type": None, "q": None, "occurred_after": None,
                               "occurred_before": None}
    with pytest.raises(Invalid) as refused:  # every bad parameter named, the filters' first
        parse_query(paged_query(ItemFilters), {"occurred_after": "soon", "$limit": "0"}.get)
    assert refused.value.message == ("occurred_after: must be an ISO-8601 time, e.g. 2026-11-25T14:00:00Z; "
                                     + LIMIT)
    assert paged_query(ItemFilters) is paged_query(ItemFilters) and paged_query(None) is PageQuery
