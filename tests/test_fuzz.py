"""Property-based fuzzing of every operation in the OpenAPI description, against a live server.

Each operation is fuzzed twice: as the Jupyter user (the server token) and with a workspace API key
holding every scope. Every reply must be: no 5xx, a status the description documents for that
operation, the documented content type, and a body that conforms to the documented schema.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from jupyter_opensink.surfaces import ROUTES
from jupyter_opensink.api.openapi import build_openapi

from .servers import start_server

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: Per operation and credential: bounded for CI. Explore locally with more, e.g.
#: OPENSINK_FUZZ_EXAMPLES=200 OPENSINK_FUZZ_RANDOM=1 pytest tests/test_fuzz.py
EXAMPLES = int(os.environ.get("OPENSINK_FUZZ_EXAMPLES", "12"))
#: (credential, status) -> replies seen; read by the last test and quoted in the README.
STATUSES: Counter = Counter()
OPERATIONS: dict[str, set[str]] = {"token": set(), "key": set()}
SPEC = build_openapi([r for r in ROUTES if not r.stream], server_url="/jp/opensink")
schema = schemathesis.openapi.from_dict(SPEC)
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
    if case.headers and "Idempotency-Key" in case.headers:
        # The generator repeats a few key values across requests; each would then be refused as a reuse
        # (tests/api/test_idempotency.py covers that). A fresh key per request lets the handlers be reached.
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    response = case.call(base_url=server.url, headers={"Authorization": auth}, timeout=30)
    STATUSES[credential, response.status_code] += 1
    OPERATIONS[credential].add(case.operation.label)  # also counts requests with undeclared methods
    case.validate_response(response, checks=CHECKS, headers={"Authorization": auth})
    if response.status_code == 405:  # a method the path lacks (probed too): still our JSON error, and Allow
        assert set(response.json()) == {"error"} and response.headers.get("allow"), (
            response.request.method, response.request.url, response.text)


@schema.parametrize()
@fuzz
def test_fuzz_as_the_jupyter_user(case, server):
    fuzz_with(case, server, "token")


@schema.parametrize()
@fuzz
def test_fuzz_with_an_api_key(case, server):
    fuzz_with(case, server, "key")


def test_the_fuzzer_reached_the_handlers(server):
    """Runs after the fuzzing above: every operation was called both ways, with real answers."""
    operations = {f"{method.upper()} {path}" for path, ops in SPEC["paths"].items() for method in ops}
    assert OPERATIONS["token"] == OPERATIONS["key"] == operations
    for credential in ("token", "key"):
        by_class = Counter()
        for (who, status), count in STATUSES.items():
            if who == credential:
                by_class[status // 100] += count
        assert by_class[2] > 50 and by_class[4] > 50 and by_class[5] == 0, (credential, STATUSES)
    # The key was never refused for itself: it stayed valid through the whole run.
    assert httpx.get(server.api + "/sinks", headers={"Authorization": f"Bearer {server.key}"}).status_code == 200
    print("fuzzed operations:", len(operations), "requests:", sum(STATUSES.values()),
          "statuses:", dict(sorted(STATUSES.items())))
