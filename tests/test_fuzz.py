"""Property-based fuzzing of every operation in the OpenAPI description, against a live server.

Each operation is fuzzed twice: as the Jupyter user (the server token) and with a workspace API key
holding every scope. Every reply must be: no 5xx, a status the description documents for that
operation, the documented content type, and a body that conforms to the documented schema.

The headers the server reads values from (``HOSTILE_HEADERS``) are generated beyond their declared
schema: hostile values (non-ASCII digits, 5,000 digits, signs, non-ASCII text) as well as any latin-1
text. The event stream, which never ends and so is left out above, gets the same values in
``Last-Event-ID`` and ``?last_event_id=`` in a test of its own.
"""

from __future__ import annotations

import copy
import os
import time
import uuid
from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from jupyter_opensink.surfaces import ROUTES
from jupyter_opensink.api.openapi import build_openapi

from .servers import start_server

#: With ``--dist loadgroup`` (the README's test command) each credential's tests run on one worker, which
#: starts one server for them (the two halves run beside each other).
AS_THE_JUPYTER_USER = pytest.mark.xdist_group("fuzz-token")
WITH_A_KEY = pytest.mark.xdist_group("fuzz-key")

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: Per operation and credential: bounded for CI. Explore locally with more, e.g.
#: OPENSINK_FUZZ_EXAMPLES=200 OPENSINK_FUZZ_RANDOM=1 pytest tests/test_fuzz.py
EXAMPLES = int(os.environ.get("OPENSINK_FUZZ_EXAMPLES", "12"))
#: (credential, status) -> replies seen in this process; checked when the module's tests end (quoted in
#: docs/developers/testing.md).
STATUSES: Counter = Counter()
OPERATIONS: dict[str, set[str]] = {"token": set(), "key": set()}
#: (header, one of HOSTILE_VALUES?) -> requests that carried it.
HEADERS_SENT: Counter = Counter()
SPEC = build_openapi([r for r in ROUTES if not r.stream], server_url="/jp/opensink")
#: Request headers whose values the server parses (numbers, ids, keys, signatures). (X-OpenSink-Workspace
#: is only looked up: its generated values already are unknown workspaces, 404.)
HOSTILE_HEADERS = {"if-match", "last-event-id", "webhook-id", "webhook-timestamp", "webhook-signature",
                   "idempotency-key"}
#: What a number or id parser must survive: digits that are not ASCII, more digits than int() reads, signs,
#: underscores, exponents, quotes, separators, and the empty value.
HOSTILE_VALUES = ["²", "1²", "¹²³", "9" * 5000, "1" * 40, "-1", "+7", "1_0", "0x10", "1e3", "7 7",
                  '"²"', 'W/"9999999999999999999999"', "x:²", "x:" + "9" * 5000, "x:-1", "v1,²", "v1,",
                  "v2,abc", "é" * 300, "", "0"]
LATIN1_VISIBLE = st.characters(codec="latin-1", exclude_categories=("Cc", "Zs"))
HOSTILE = st.sampled_from(HOSTILE_VALUES) | st.text(LATIN1_VISIBLE, min_size=1, max_size=40)
schemathesis.openapi.format("opensink-hostile-header", HOSTILE)


def with_hostile_headers(spec: dict) -> dict:
    """The description with every parsed header's values drawn from ``HOSTILE`` instead of its schema."""
    fuzzed = copy.deepcopy(spec)
    for operations in fuzzed["paths"].values():
        for operation in operations.values():
            for parameter in operation["parameters"]:
                if parameter["in"] == "header" and parameter["name"].lower() in HOSTILE_HEADERS:
                    parameter["schema"] = {"type": "string", "format": "opensink-hostile-header"}
    return fuzzed


schema = schemathesis.openapi.from_dict(with_hostile_headers(SPEC))
#: For the API key: generated examples only. schemathesis' deterministic boundary cases and method probes
#: (its coverage phase, four fifths of the Jupyter user's 5,600 requests) exercise the parsing and
#: validation every credential reaches; sent as the Jupyter user they reach all routes, while a key meets
#: 403 on the Jupyter user's routes first. What differs between the credentials (authentication, scopes,
#: workspaces) is walked route by route in tests/api/test_security.py.
WITHOUT_COVERAGE = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
key_schema = schemathesis.openapi.from_dict(with_hostile_headers(SPEC), config=WITHOUT_COVERAGE)
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                # the same examples on every run, so CI is reproducible (OPENSINK_FUZZ_RANDOM=1: new ones)
                derandomize=not os.environ.get("OPENSINK_FUZZ_RANDOM"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    running = start_server(base / "work", base / "db", "--OpenSinkApp.fsync=never", base_url="/jp/")
    with running.client() as client:
        created = client.post("/api-keys", json={"name": "fuzzer", "scopes": ["all:all"]})
        assert created.status_code == 201, created.text
    running.key = created.json()["key"]  # type: ignore[attr-defined]
    yield running
    running.stop()


def fuzz_with(case, server, credential: str) -> None:
    auth = f"token {server.token}" if credential == "token" else f"Bearer {server.key}"
    for name, value in (case.headers or {}).items():
        if name.lower() in HOSTILE_HEADERS:
            HEADERS_SENT[name.lower(), value in HOSTILE_VALUES] += 1
    key = (case.headers or {}).get("Idempotency-Key")
    if key is not None and 0 < len(key) <= 255 - 33:
        # The generator repeats a few key values across requests; each would then be refused as a reuse
        # (tests/api/test_idempotency.py covers that). A key made unique per request lets the handlers be
        # reached, and keeps what is hostile in it (non-ASCII characters); an empty or too long key is sent
        # as it is (400).
        case.headers["Idempotency-Key"] = f"{key}-{uuid.uuid4().hex}"
    # A call carrying webhook signature headers goes without the credential, so the signature is what is
    # checked (with a credential the webhook ignores them).
    signed = any(name.lower().startswith("webhook-") for name in case.headers or {})
    sent = {} if signed else {"Authorization": auth}
    response = case.call(base_url=server.url, headers=sent, timeout=30)
    STATUSES[credential, response.status_code] += 1
    OPERATIONS[credential].add(case.operation.label)  # also counts requests with undeclared methods
    case.validate_response(response, checks=CHECKS, headers=sent)
    if response.status_code == 405:  # a method the path lacks (probed too): still our JSON error, and Allow
        assert set(response.json()) == {"error"} and response.headers.get("allow"), (
            response.request.method, response.request.url, response.text)


@AS_THE_JUPYTER_USER
@schema.parametrize()
@fuzz
def test_fuzz_as_the_jupyter_user(case, server):
    fuzz_with(case, server, "token")


@WITH_A_KEY
@key_schema.parametrize()
@fuzz
def test_fuzz_with_an_api_key(case, server):
    fuzz_with(case, server, "key")


def read_until_connected(response: httpx.Response, then=None) -> list[str]:
    """The stream's lines up to its ": connected" comment (at most 5 s); ``then()`` is called there."""
    deadline = time.monotonic() + 5
    lines = []
    for line in response.iter_lines():
        lines.append(line)
        if line == ": connected" and then is not None:
            then()
        elif line == ": connected" or time.monotonic() > deadline:
            break
        if then is not None and line.startswith("id: "):
            break
    return lines


@pytest.fixture(scope="module")
def boot(server) -> str:
    """The server's event-id prefix (``<boot>:<seq>``), read from a real event."""
    auth = {"Authorization": f"token {server.token}"}
    with httpx.stream("GET", server.api + "/events", headers=auth, timeout=5) as response:
        lines = read_until_connected(response, then=lambda: httpx.post(server.api + "/sinks", headers=auth,
                                                                      json={"name": "boot"}, timeout=5))
    return lines[-1].removeprefix("id: ").partition(":")[0]


def every_hostile_value(test):
    """Hypothesis examples: each of HOSTILE_VALUES after the boot prefix, whatever the generator draws."""
    for i, value in enumerate(HOSTILE_VALUES):
        test = example(value=value, how=("header", "query", "both")[i % 3], prefixed=True)(test)
    return test


@WITH_A_KEY
@given(value=HOSTILE, how=st.sampled_from(["header", "query", "both"]), prefixed=st.booleans())
@every_hostile_value
@settings(max_examples=4 * EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=not os.environ.get("OPENSINK_FUZZ_RANDOM"))
def test_fuzz_the_event_streams_resume_id(server, boot, value, how, prefixed):
    """A resume id is whatever the client sends (after this server's boot prefix, or alone): the stream
    opens (200) and starts, with a reset when the id is no sequence number it knows."""
    resume = f"{boot}:{value}" if prefixed else value
    headers: dict = {"Authorization": f"token {server.token}"}
    params = {}
    if how in ("header", "both"):
        headers["Last-Event-ID"] = resume.encode("latin-1")
    if how in ("query", "both"):
        params["last_event_id"] = resume
    with httpx.stream("GET", server.api + "/events", headers=headers, params=params, timeout=5) as response:
        STATUSES["token", response.status_code] += 1
        assert response.status_code == 200, (resume[:40], how, response.read())
        lines = read_until_connected(response)
    assert lines and lines[-1] == ": connected", (resume[:40], how, lines)
    if resume and not (prefixed and value.isascii() and value.isdigit()):
        assert "event: reset" in lines, (resume[:40], how, lines)


@pytest.fixture(scope="module", autouse=True)
def the_fuzzer_reached_the_handlers(server):
    """After this module's tests in this process, whichever ran and in whatever order (one test alone, a
    share of them on an xdist worker, all of them): every operation fuzzed was called with the credential
    accepted, real answers came back, and every parsed header it declares was sent with hostile values."""
    yield
    fuzzed = OPERATIONS["token"] | OPERATIONS["key"]
    if not fuzzed:
        return  # only the event-stream test ran
    for credential in ("token", "key"):
        by_class = Counter()
        for (who, status), count in STATUSES.items():
            if who == credential:
                by_class[status // 100] += count
        assert by_class[5] == 0, (credential, STATUSES)
        if len(OPERATIONS[credential]) >= 20:  # a share large enough to have met both
            assert by_class[2] > 50 and by_class[4] > 50, (credential, STATUSES)
    declared = {parameter["name"].lower() for path, ops in SPEC["paths"].items() for method, op in ops.items()
                if f"{method.upper()} {path}" in fuzzed for parameter in op["parameters"]
                if parameter["in"] == "header"} & (HOSTILE_HEADERS - {"last-event-id"})  # that one: below
    assert {name for name, _ in HEADERS_SENT} >= declared, HEADERS_SENT
    assert all(HEADERS_SENT[name, True] for name, _ in HEADERS_SENT), HEADERS_SENT
    # The key was never refused for itself: it stayed valid through the whole run.
    assert httpx.get(server.api + "/sinks", headers={"Authorization": f"Bearer {server.key}"}).status_code == 200
    operations = {f"{method.upper()} {path}" for path, ops in SPEC["paths"].items() for method in ops}
    print("\nfuzzed operations:", len(fuzzed), "of", len(operations), "requests:", sum(STATUSES.values()),
          "statuses:", dict(sorted(STATUSES.items())), "headers:", dict(sorted(HEADERS_SENT.items())))