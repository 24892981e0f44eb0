"""Fixtures shared by the server tests.

They follow pytest-jupyter's rules: fixtures stay synchronous and hand out
async factories; the async tests themselves run on pytest-jupyter's loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError, HTTPResponse

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def opensink_config() -> dict[str, Any]:
    """Traits of OpenSinkApp for this test; override or mutate in a test module."""
    return {"fsync": "never"}


@pytest.fixture
def store_backend() -> dict[str, Any]:
    """OpenSinkApp traits choosing the store: TinyDB here; tests/api parametrizes it over both backends."""
    return {}


@pytest.fixture
def jp_server_config(tmp_path, opensink_config, store_backend):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_opensink": True},
            "reraise_server_extension_failures": True,
        },
        "OpenSinkApp": {"db_dir": str(tmp_path / "opensink-db"), **opensink_config, **store_backend},
    }


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL server for the whole session (tests/postgres.py); fails if not installed."""
    from .postgres import PgCluster, PostgresMissing

    try:
        cluster = PgCluster()
    except PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_database(pg_cluster):
    """The URL of a new, empty database, dropped after the test."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


def backend_params(request) -> dict[str, Any]:
    """Traits for the backend named by a ``backend`` fixture parameter."""
    if request.param == "postgres":
        return {"database_url": request.getfixturevalue("pg_database")}
    return {}


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any

    @property
    def error(self) -> str:
        assert isinstance(self.body, dict) and set(self.body) == {"error"}, self.body
        return self.body["error"]


@pytest.fixture
def opensink_app(jp_serverapp):
    """The running extension app (its store and services)."""
    return jp_serverapp.extension_manager.extension_points["jupyter_opensink"].app


@pytest.fixture
def api(http_server_client, jp_base_url, jp_serverapp):
    """``await api(method, "/v1/...", body, key=..., auth=...)`` -> Reply.

    ``auth`` is "token" (the Jupyter token, the default), "key" (needs ``key``) or None (no
    credential at all). Never raises on an error status.
    """
    token = jp_serverapp.identity_provider.token

    async def call(method: str, path: str, body: Any = None, *, key: str | None = None, auth: str | None = "token",
                   headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
                   raw: bytes | None = None) -> Reply:
        sent = dict(headers or {})
        if key is not None:
            sent.setdefault("Authorization", f"Bearer {key}")
        elif auth == "token":
            sent.setdefault("Authorization", f"token {token}")
        url = jp_base_url.rstrip("/") + "/opensink/api" + path
        if params:
            from urllib.parse import urlencode
            url += "?" + urlencode(params)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        try:
            response: HTTPResponse = await http_server_client.fetch(
                url, method=method, headers=sent, body=data, allow_nonstandard_methods=True, request_timeout=30)
        except HTTPClientError as exc:
            if exc.response is None:
                raise
            response = exc.response
        text = response.body.decode() if response.body else ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Reply(response.code, parsed, response.headers)

    return call


@pytest.fixture
def make_key(api):
    """``await make_key(scopes=[...], workspace_id=...)`` -> the secret of a new API key."""

    async def create(**fields: Any) -> str:
        reply = await api("POST", "/v1/api-keys", {"name": "test key", **fields})
        assert reply.status == 201, reply.body
        return reply.body["key"]

    return create


@pytest.fixture
def receiver(jp_asyncio_loop):
    """A live HTTP receiver on 127.0.0.1 (see tests/receivers.py)."""
    from .receivers import start_receiver

    recv, server = start_receiver()
    yield recv
    server.stop()
    jp_asyncio_loop.run_until_complete(server.close_all_connections())
