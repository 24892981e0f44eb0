"""The security suite: every walk here goes over the whole route table (or Jupyter's own).

Credentials (none, bad, revoked, expired), each missing scope, other workspaces' ids, sink
secrets, public pages, API keys on Jupyter's routes, cookie writes without XSRF, oversized and
deeply nested bodies, huge ``$limit`` and header injection through configured headers. A route
added to the table is walked by every test here without editing this file (a new body route
needs a valid body in tests/api/walk.py).
"""

from __future__ import annotations

import asyncio
import copy
import re
import secrets
from collections import Counter
from typing import Any

import pytest
from pydantic import RootModel
from tornado.httpclient import HTTPClientError

from jupyter_opensink.api.auth import SINK_SECRET, WEBHOOK_SECRET
from jupyter_opensink.api.handler import OpenSinkHandler
from jupyter_opensink.api.routing import ADMIN, ANY, PUBLIC
from jupyter_opensink.models.sinks import PublicSink
from jupyter_opensink.services.access import RESOURCES

from . import walk
from .conftest import store_independent

try:
    from re import _parser as regex_parser  # Python 3.11+
except ImportError:  # pragma: no cover
    import sre_parse as regex_parser  # type: ignore[no-redef]

MAX_BODY = 64 * 1024
CREDENTIALED = [r for r in walk.routes(stream=True) if r.scope != PUBLIC]  # every route that takes a credential
CALLABLE = [r for r in walk.routes() if r.scope != PUBLIC]  # the same, without streams (they never end)
BODY_ROUTES = [r for r in walk.routes() if r.body is not None]
PAGED = [r for r in walk.routes() if r.paged]
PUBLIC_ROUTES = [r for r in walk.routes() if r.scope == PUBLIC]
SAMPLE = {"name": "x", "title": "t"}


@pytest.fixture
def opensink_config():
    return {"fsync": "never", "max_body_size": MAX_BODY}


@pytest.fixture
def jp_server_config(jp_server_config, request):
    """Tests marked ``with_jupyterlab`` also load JupyterLab's and the terminals' server extensions (their
    routes are Jupyter's too)."""
    if request.node.get_closest_marker("with_jupyterlab"):
        extensions = jp_server_config["ServerApp"]["jpserver_extensions"]
        extensions.update(jupyterlab=True, jupyter_server_terminals=True)
    return jp_server_config


@pytest.fixture
def call(api, record_property):
    """``api``, counting this test's requests: recorded as the test's ``walk_requests`` property, which the
    run's summary adds up (tests/conftest.py; the totals are quoted in docs/developers/testing.md)."""
    made = 0

    async def counted(*args: Any, **kwargs: Any):
        nonlocal made
        made += 1
        return await api(*args, **kwargs)

    yield counted
    record_property("walk_requests", made)


def test_the_walks_know_every_route():
    assert CREDENTIALED and BODY_ROUTES and PAGED and PUBLIC_ROUTES
    for route in BODY_ROUTES:  # a new body route needs a valid body to be walked
        walk.valid_body(route, {kind: "some-id" for kind in ("sinks", "agents", "agent-sessions")})


# -- credentials ---------------------------------------------------------------------------------
async def test_every_route_refuses_missing_bad_revoked_and_expired_credentials(call, make_key, objects):
    ids = await objects()
    revoked = await make_key()
    key_id = [k for k in (await call("GET", "/v1/api-keys")).body["items"] if k["name"] == "test key"][0]["id"]
    assert (await call("DELETE", f"/v1/api-keys/{key_id}")).status == 200
    expired = await make_key(expired=True)
    credentials = {"none": {"auth": None}, "bad Jupyter token": {"headers": {"Authorization": "token not-it"}},
                   "unknown key": {"key": "osk_not-a-key"}, "revoked key": {"key": revoked},
                   "expired key": {"key": expired}}
    for route in CREDENTIALED:
        body = SAMPLE if route.body is not None else None
        for what, auth in credentials.items():
            reply = await call(route.method, walk.url(route, ids), body, **auth)
            assert reply.status == 401, (walk.name(route), what, reply.status, reply.body)
            assert reply.error and reply.headers["WWW-Authenticate"].startswith("Bearer")
            if what == "expired key":
                assert reply.error == "API key expired"


async def test_every_scoped_route_needs_its_own_scope(call, make_key, objects):
    """A key holding every scope but the route's is refused (403 naming it); one holding just it passes."""
    ids = await objects()
    keys: dict[tuple[str, ...], str] = {}

    async def key_with(*scopes: str) -> str:
        if scopes not in keys:
            keys[scopes] = await make_key(scopes=list(scopes))
        return keys[scopes]

    everything = await key_with("all:all")
    for route in CALLABLE:
        body = walk.valid_body(route, ids)
        if route.scope == ADMIN:
            reply = await call(route.method, walk.url(route, ids), body, key=everything)
            assert reply.status == 403 and "only the Jupyter user" in reply.error, (walk.name(route), reply.body)
            continue
        if route.scope == ANY:
            reply = await call(route.method, walk.url(route, ids), body, key=await key_with("webhooks:read"))
            assert reply.status == route.status, (walk.name(route), reply.body)
            continue
        resource, _, access = route.scope.partition(":")
        other = "read" if access == "write" else "write"
        all_but = await key_with(*[f"{r}:all" for r in RESOURCES if r != resource], f"{resource}:{other}")
        reply = await call(route.method, walk.url(route, ids), body, key=all_but)
        assert reply.status == 403 and reply.error == f"this API key lacks the scope {route.scope}", (
            walk.name(route), reply.status, reply.body)
        if route.method == "DELETE":
            continue  # the positive side would delete what later routes use
        reply = await call(route.method, walk.url(route, ids), body, key=await key_with(route.scope),
                           params=walk.id_filters(route, ids))
        assert reply.status not in (401, 403), (walk.name(route), reply.body)


def mentions(value: Any, strings: set[str]) -> bool:
    if isinstance(value, dict):
        return any(mentions(v, strings) for v in value.values())
    if isinstance(value, list):
        return any(mentions(v, strings) for v in value)
    return value in strings


async def test_another_workspaces_objects_are_404(call, make_key, objects):
    """Ids in the path, ids in the body and ids in filters: never found, never listed, never 403."""
    ids = await objects()
    team = (await call("POST", "/v1/workspaces", {"name": "other"})).body
    outsider = await make_key(workspace_id=team["id"])  # all scopes, other workspace
    known = set(ids.values())
    walked = Counter()
    for route in CALLABLE:
        if route.scope == ADMIN:
            continue
        body = walk.valid_body(route, ids)
        filters = walk.id_filters(route, ids)
        refers = "{" in route.path or mentions(body, known)
        if not (refers or filters):
            continue
        reply = await call(route.method, walk.url(route, ids), body, key=outsider, params=filters)
        if route.method == "PUT":  # an upsert by a name the caller picks: it writes its own workspace's object
            assert reply.status == 201 and reply.body["workspace_id"] == team["id"], (walk.name(route), reply.body)
            mine = await call("GET", walk.url(route, ids))
            assert mine.body["workspace_id"] != team["id"] and mine.body["version"] == 1, mine.body
            assert (await call("DELETE", walk.url(route, ids), key=outsider)).status == 200  # as before the walk
        elif route.paged and "{namespace}" in route.path:  # a name, not an id: its own (empty) namespace
            assert reply.status == 200 and reply.body["items"] == [], (walk.name(route), reply.body)
        elif route.path in ("/sink-items/many", "/sink-items/bulk"):  # the batch reply names each item's problem
            assert reply.status == 200 and reply.body["created"] == [], reply.body
            assert all("not found" in e for i in reply.body["invalid"] for e in i["errors"])
        elif "{" in route.path or refers:
            assert reply.status == 404 and "not found" in reply.error, (walk.name(route), reply.status, reply.body)
        else:  # a filter naming it: nothing listed (or 404 where the filter names the one object looked at)
            assert (reply.status == 200 and reply.body["items"] == []) or (
                reply.status == 404 and "not found" in reply.error), (walk.name(route), reply.body)
        walked[route.method] += 1
    assert sum(walked.values()) >= 30, walked
    # Naming the other workspace in X-OpenSink-Workspace is a 404 too, on every route a key may call.
    for route in CALLABLE:
        if route.scope == ADMIN:
            continue
        reply = await call(route.method, walk.url(route, ids), walk.valid_body(route, ids), key=outsider,
                           headers={"X-OpenSink-Workspace": ids["workspaces"]})
        assert reply.status == 404 and "workspace" in reply.error, (walk.name(route), reply.body)


# -- sink secrets and public pages -------------------------------------------------------------
async def test_a_sink_secret_opens_only_its_own_sinks_ingest(call, objects):
    ids = await objects()
    sink = (await call("GET", f"/v1/sinks/{ids['sinks']}")).body
    secret = {"X-OpenSink-Sink-Secret": sink["secret"]}
    for route in CREDENTIALED:
        body = walk.valid_body(route, ids) if route.body is not None else None
        reply = await call(route.method, walk.url(route, ids), body, auth=None, headers=secret)
        if route.auth is SINK_SECRET:
            assert reply.status == 201 and reply.body["sink_id"] == sink["id"], reply.body
            other = dict(ids, sinks=ids["public-sinks"])  # another sink of the same workspace
            reply = await call(route.method, walk.url(route, other), body, auth=None, headers=secret)
            assert reply.status == 401 and reply.error == "invalid sink secret", reply.body
        else:
            assert reply.status == 401, (walk.name(route), reply.status, reply.body)


async def test_public_pages_show_nothing_private(call, make_key, objects):
    ids = await objects()
    key = await make_key()
    sinks = (await call("GET", "/v1/sinks")).body["items"]
    workspace = (await call("GET", f"/v1/workspaces/{ids['workspaces']}")).body
    private = [s["secret"] for s in sinks] + [workspace["execution_secret"], workspace["id"], key, key[:12]]
    declared = {"sink": set(PublicSink.model_fields["sink"].annotation.model_fields),
                "items": set(PublicSink.model_fields["items"].annotation.__args__[0].model_fields)}
    for route in PUBLIC_ROUTES:
        replies = [await call(route.method, walk.url(route, ids), auth=None),
                   await call(route.method, walk.url(route, ids), key=key),
                   await call(route.method, walk.url(route, ids))]
        assert [r.status for r in replies] == [200] * 3, [r.body for r in replies]
        assert replies[0].body == replies[1].body == replies[2].body  # a credential shows no more
        page = replies[0].body
        assert set(page["sink"]) == declared["sink"] and page["items"]
        assert all(set(item) == declared["items"] for item in page["items"])
        text = str(page)
        assert not [p for p in private if p in text] and "secret" not in text and "workspace" not in text
        for method in walk.WRITES:  # read-only
            assert (await call(method, walk.url(route, ids), {})).status == 405
        # Not public (any more), or never: 404 alike.
        await call("PATCH", f"/v1/sinks/{ids['public-sinks']}", {"is_public": False})
        for slug in (ids["public-slug"], "no-such-slug"):
            reply = await call(route.method, walk.url(route, {"public-slug": slug}), auth=None)
            assert reply.status == 404 and reply.body == {"error": f"no public sink {slug!r}"}
        await call("PATCH", f"/v1/sinks/{ids['sinks']}", {"public_slug": "has-a-slug"})  # a slug alone is not public
        assert (await call(route.method, walk.url(route, {"public-slug": "has-a-slug"}), auth=None)).status == 404


# -- Jupyter's own routes and cookies ----------------------------------------------------------
def example_path(pattern: str) -> str:
    """A short string the regular expression matches (first branch, one repetition)."""

    def build(items) -> str:
        out = []
        for op, arg in items:
            name = str(op)
            if name == "LITERAL":
                out.append(chr(arg))
            elif name == "ANY":
                out.append("a")
            elif name == "IN":
                kinds = {str(o): a for o, a in arg}
                if "NEGATE" in kinds:
                    out.append("a")
                elif "LITERAL" in kinds:
                    out.append(chr(kinds["LITERAL"]))
                elif "RANGE" in kinds:
                    out.append(chr(kinds["RANGE"][0]))
                else:
                    out.append("1" if "DIGIT" in str(kinds.get("CATEGORY")) else "a")
            elif name in ("MAX_REPEAT", "MIN_REPEAT"):
                low, high, sub = arg
                out.append(build(sub) * max(low, min(1, high)))
            elif name == "SUBPATTERN":
                out.append(build(arg[-1]))
            elif name == "BRANCH":
                out.append(build(arg[1][0]))
        return "".join(out)

    return build(regex_parser.parse(pattern))


def jupyter_routes(serverapp) -> list[tuple[str, str]]:
    """(pattern, handler name) of every handler the server registered that is not ours."""
    found = []

    def visit(rules) -> None:
        for rule in rules:
            target = rule.target
            if hasattr(target, "rules"):
                visit(target.rules)
            elif isinstance(target, type) and not issubclass(target, OpenSinkHandler):
                regex = getattr(rule.matcher, "regex", None)
                if regex is not None:
                    found.append((regex.pattern, target.__name__))

    visit(serverapp.web_app.default_router.rules)
    return found


async def status_of(reply) -> int:
    """The reply's status; 599 when the server closed the connection without one."""
    try:
        return (await reply).status
    except HTTPClientError as exc:
        return exc.code


@store_independent
@pytest.mark.system  # a walk of every handler Jupyter, its terminals and JupyterLab serve (~1,000 requests)
@pytest.mark.with_jupyterlab
# JupyterLab's licenses handler never finishes an error reply (its finish() needs an argument tornado does
# not pass); it times out for everyone alike.
@pytest.mark.filterwarnings("ignore:coroutine 'LicensesHandler.finish' was never awaited:RuntimeWarning")
async def test_api_keys_get_nothing_more_than_no_credential_on_jupyters_own_routes(
        call, make_key, jp_serverapp, jp_base_url, http_server_client):
    """Kernels, contents, terminals, sessions, shutdown...: a key is the same as no credential at all."""
    key = await make_key()
    forms = {"Bearer": {"key": key}, "token scheme": {"headers": {"Authorization": f"token {key}"}},
             "?token=": {"auth": None, "params": {"token": key}}}
    methods = ("GET", *walk.WRITES)
    routes = [(path, handler) for pattern, handler in jupyter_routes(jp_serverapp)
              if (path := example_path(pattern)).startswith(jp_base_url) and re.match(pattern, path)]
    # A route's requests all at once, four routes at a time: some of Jupyter's handlers never answer an error
    # (JupyterLab's licenses handler) and time out alike (599) for everyone; the walk goes on meanwhile. No
    # request waits in the client's queue, where its timeout would already run.
    at_once = 4
    http_server_client.max_clients = at_once * len(methods) * (1 + len(forms))
    turns = asyncio.Semaphore(at_once)

    async def walk_route(path: str, handler: str) -> str:
        async with turns:
            statuses = await asyncio.gather(*[
                status_of(call(method, path, {} if method != "GET" else None, timeout=5, **auth))
                for method in methods for auth in ({"auth": None}, *forms.values())])
        for i, method in enumerate(methods):
            anonymous, *with_key = statuses[i * (1 + len(forms)):(i + 1) * (1 + len(forms))]
            for form, status in zip(forms, with_key):
                assert status == anonymous, (handler, method, path, form, status, anonymous)
                assert status >= 300 or anonymous < 300, (handler, method, path, form)
        return handler

    walked = set(await asyncio.gather(*[walk_route(path, handler) for path, handler in routes]))
    assert {"ContentsHandler", "MainKernelHandler", "TerminalRootHandler", "SessionRootHandler", "ShutdownHandler",
            "LabHandler", "SettingsHandler", "WorkspacesHandler"} <= walked, walked
    assert len(walked) >= 40, len(walked)


async def test_cookie_writes_need_the_xsrf_token(call, login_cookie, objects):
    """The Jupyter login cookie reads everything; it writes only with the XSRF token (a browser's own page)."""
    ids = await objects()
    cookie = await login_cookie()
    xsrf = secrets.token_hex(16)
    with_xsrf = {"Cookie": f"{cookie['Cookie']}; _xsrf={xsrf}", "X-XSRFToken": xsrf}
    for route in CALLABLE:
        if route.method not in walk.WRITES:
            reply = await call(route.method, walk.url(route, ids), auth=None, headers=cookie,
                               params=walk.id_filters(route, ids))
            assert reply.status == route.status, (walk.name(route), reply.body)
            continue
        reply = await call(route.method, walk.url(route, ids), walk.valid_body(route, ids), auth=None, headers=cookie)
        if route.auth is WEBHOOK_SECRET:  # the cookie is no credential there (only a key or the webhook's secret): nothing done
            assert reply.status == 401, (walk.name(route), reply.status, reply.body)
            continue
        assert reply.status == 403 and "xsrf" in reply.error.lower(), (walk.name(route), reply.status, reply.body)
        # The same request with the token pair gets past authentication (unknown ids: nothing changes).
        reply = await call(route.method, walk.url(route), SAMPLE if route.body else None, auth=None,
                           headers=with_xsrf)
        assert reply.status not in (401, 403), (walk.name(route), reply.body)


# -- hostile bodies and parameters -------------------------------------------------------------
async def test_every_body_route_refuses_an_oversized_body(call, make_key, objects):
    """Announced (Content-Length) or streamed (chunked), with the token or a key: 413 before any work."""
    ids = await objects()
    key = await make_key()
    big = b'{"name": "' + b"x" * MAX_BODY + b'"}'
    for route in BODY_ROUTES:
        for auth in ({}, {"key": key}):
            for chunked in (False, True):
                reply = await call(route.method, walk.url(route, ids), raw=big, chunked=chunked, **auth)
                assert reply.status == 413, (walk.name(route), auth, chunked, reply.status, reply.body)
                assert reply.error == f"the request body is larger than {MAX_BODY} bytes"


async def test_every_listing_refuses_a_huge_limit(call, objects):
    """API.md: $limit is 1 to 500, and 400 beyond (never clamped, never a 500)."""
    ids = await objects()
    for route in PAGED:
        for limit in ("501", "1000000", str(10**40), "9" * 5000, "-1", "0", "1e3", "", "ten"):
            reply = await call(route.method, walk.url(route, ids), params={"$limit": limit})
            assert reply.status == 400 and reply.error == "$limit must be an integer from 1 to 500", (
                walk.name(route), limit[:20], reply.body)
        reply = await call(route.method, walk.url(route, ids), params={"$limit": "500"})
        assert reply.status == 200 and len(reply.body["items"]) <= 500


def nested(depth: int) -> Any:
    """``{"items": {"items": ... {}}}``: deep data, and a deep JSON Schema where a field holds one."""
    value: Any = {}
    for _ in range(depth - 1):
        value = {"items": value}
    return value


async def test_deeply_nested_json_is_refused_on_every_body_route(call, objects):
    """A whole body nested thousands deep is a 400; so is any field nested past what a body may hold;
    a field nested as deep as a body may hold is accepted or refused, never a 500."""
    ids = await objects()
    for route in BODY_ROUTES:
        target = walk.url(route, ids)
        for raw in (b'{"a":' * 5000 + b"1" + b"}" * 5000, b"[" * 5000 + b"]" * 5000):
            reply = await call(route.method, target, raw=raw)
            assert reply.status == 400 and reply.error, (walk.name(route), reply.status, reply.body)
        for name, field in route.body.model_fields.items():
            for depth, allowed in ((197, range(200, 500)), (300, (400,))):
                if issubclass(route.body, RootModel):  # the body is the array itself: nested in an item
                    body: Any = [nested(depth)]
                else:
                    body = {**(walk.valid_body(route, ids) or {}), field.alias or name: nested(depth)}
                reply = await call(route.method, target, body)
                assert reply.status in allowed, (walk.name(route), name, depth, reply.status, reply.body)


def header_holders(schema: dict, defs: dict, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths to every ``headers`` object in a request schema (following $refs)."""
    if "$ref" in schema:
        return header_holders(defs[schema["$ref"].rsplit("/", 1)[1]], defs, path)
    found = []
    for option in schema.get("anyOf", []):
        found += header_holders(option, defs, path)
    for name, sub in schema.get("properties", {}).items():
        if name == "headers":
            found.append((*path, name))
        else:
            found += header_holders(sub, defs, (*path, name))
    return found


async def test_header_injection_through_configured_headers_is_refused(call, objects):
    """A configured header (an agent's execution endpoint, a job's target) that is not visible ASCII, space
    or tab (CR, LF, NUL, VT, DEL, non-ASCII) is a 400."""
    ids = await objects()
    bad = [{"X-A": "v\r\nX-Injected: 1"}, {"X-A": "v\nGET / HTTP/1.1"}, {"X-A": "v\rX"}, {"X-A": "v\x00"},
           {"X-A\r\nX-B": "v"}, {"X A": "v"}, {"X:A": "v"}, {"": "v"},
           # other controls and non-ASCII: the call could never be sent, so they are refused when set
           {"X-A": "v\x0bw"}, {"X-A": "v\x7f"}, {"X-A": "caf\u00e9"}, {"X-A": "\u2028"}]
    holders = 0
    for route in BODY_ROUTES:
        schema = route.body.model_json_schema()
        for path in header_holders(schema, schema.get("$defs", {})):
            holders += 1
            for headers in [*bad, {"X-Fine": "value; with=punctuation"}]:
                body = copy.deepcopy(walk.valid_body(route, ids))
                holder = body
                for part in path[:-1]:  # whatever holds headers is an HTTP target: it has a url
                    holder = holder.setdefault(part, {"url": "http://127.0.0.1:9/x"})
                holder["url"] = "http://127.0.0.1:9/x"
                holder["headers"] = headers
                reply = await call(route.method, walk.url(route, ids), body)
                if "X-Fine" in headers:
                    assert reply.status == route.status, (walk.name(route), path, reply.body)
                else:
                    where = ".".join(path)
                    assert reply.status == 400 and where in reply.error, (walk.name(route), headers, reply.body)
    assert holders >= 4  # agents (create, patch) and jobs (create, patch)
