"""Fixtures shared by the server tests.

They follow pytest-jupyter's rules: fixtures stay synchronous and hand out
async factories; the async tests themselves run on pytest-jupyter's loop.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest

from jupyter_opensink.services.access import Principal
from tornado.httpclient import HTTPClientError, HTTPResponse

pytest_plugins = ["pytest_jupyter.jupyter_server"]


#: Test modules that run whole systems: real browsers, notebooks in kernels, server processes killed or
#: started several at a time, the fuzzer, node, benchmarks' smoke tests, the docs site's build. They carry the
#: ``system`` marker, so ``pytest -m "not system"`` is the quick loop to run after each change (the README's
#: test command runs all). A single test elsewhere that restarts a server process or walks every handler of a
#: whole server carries the marker itself.
SYSTEM_MODULES = ("browser/", "test_notebooks.py", "test_faults.py", "test_multi_server.py", "test_benchmarks.py",
                  "test_labextension.py", "test_mcp_process.py", "test_server_process.py", "test_hostile_clients.py",
                  "test_fuzz.py", "test_agent.py", "test_examples.py", "test_install.py", "store/test_durability.py",
                  "store/test_model", "test_docs_site.py", "test_notebook_agents.py", "integrations/",
                  "test_notebook_runs.py")


def pytest_configure(config):
    config.addinivalue_line("markers", "with_jupyterlab: the test's server also loads JupyterLab's and the "
                                       "terminals' extensions")
    config.addinivalue_line("markers", "opensink(**traits): OpenSinkApp traits for this test's server")
    # pytest-xdist registers it too; here so `-p no:xdist` (one process, e.g. under a profiler) still runs.
    config.addinivalue_line("markers", "xdist_group(name): the tests of a group run on one xdist worker")
    config.addinivalue_line("markers", "system: a slow test of a whole system (see SYSTEM_MODULES in "
                                       "tests/conftest.py); -m 'not system' leaves them out")


def pytest_terminal_summary(terminalreporter):
    """The security walks' request counts (each test records its own, so this holds on xdist workers too)."""
    walked: dict[str, int] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", ()):
                if name == "walk_requests":
                    walked[report.nodeid.rsplit("::", 1)[-1]] = value
    if walked:
        terminalreporter.write_sep("-", f"security walks: {sum(walked.values())} requests")
        for test, count in sorted(walked.items()):
            terminalreporter.write_line(f"{count:6d}  {test}")


#: The longest tests (minutes each), run first: on xdist workers one started last would make the whole run
#: wait for it alone. Tests do not depend on their order, so this only changes when they run.
LONGEST_FIRST = ("test_install.py", "test_faults.py", "test_benchmarks.py")


def pytest_ignore_collect(collection_path, config):
    """The quick loop (``-m "not system"``) does not even import the system modules: they would all be
    deselected, and collecting them costs every worker seconds (the fuzzer's module alone builds its
    generated cases at collection)."""
    if config.getoption("markexpr", "") != "not system":
        return None
    try:
        where = collection_path.relative_to(config.rootpath / "tests").as_posix()
    except ValueError:
        return None
    if collection_path.is_file() and where.startswith(SYSTEM_MODULES):
        return True
    return None


def pytest_collect_file(file_path, parent):
    """schemathesis's pytest plugin (which imports hypothesis too) costs every test process about a second of
    CPU at start-up, and only the fuzzer's module uses it: pyproject's addopts keep it from loading
    (``-p no:schemathesis``) and it is registered here, just before that module is collected."""
    manager = parent.config.pluginmanager
    if file_path.name == "test_fuzz.py" and not manager.has_plugin("opensink-schemathesis"):
        from schemathesis.pytest import plugin

        manager.register(plugin, "opensink-schemathesis")


#: Folders whose modules share servers made once per test process (session fixtures, e.g. the browser tests'
#: JupyterLab): each module is one xdist group, so its tests run on one worker, which starts such a server
#: once for all the modules it draws. Not one group for the whole folder: its tests would then run one after
#: another on one worker for minutes while the others end (each worker starting one more JupyterLab costs a
#: few CPU-seconds).
SHARED_SERVER_FOLDERS = ("browser/",)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups it adds
def pytest_collection_modifyitems(config, items):
    for item in items:
        where = item.path.relative_to(config.rootpath / "tests").as_posix()
        if where.startswith(SYSTEM_MODULES):
            item.add_marker(pytest.mark.system)
        if where.startswith(SHARED_SERVER_FOLDERS):
            item.add_marker(pytest.mark.xdist_group(where.removesuffix(".py").replace("/", "-")))
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


def pytest_collection_finish(session):
    """With ``--dist loadgroup``, every test marked ``xdist_group`` must carry its group, or modules meant to
    share one server (and one worker) would silently start it on every worker: fail the run instead."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [item.nodeid for item in session.items
            if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if lost:
        raise pytest.UsageError(f"pytest-xdist did not group {len(lost)} tests (first: {lost[0]}); "
                                "check the pytest and pytest-xdist versions in the test extra")


@pytest.fixture
def opensink_config(request) -> dict[str, Any]:
    """Traits of OpenSinkApp for this test (``@pytest.mark.opensink(trait=value)`` adds some); override or
    mutate in a test module."""
    marker = request.node.get_closest_marker("opensink")
    return {"fsync": "never", **(marker.kwargs if marker else {})}


@pytest.fixture
def store_backend() -> dict[str, Any]:
    """OpenSinkApp traits choosing the store: TinyDB here; tests/api parametrizes it over both backends."""
    return {}


@pytest.fixture(autouse=True)
def jp_server_cleanup(jp_asyncio_loop, store_backend):
    """pytest-jupyter's own cleanup (it stops the server and its extensions), made to depend on the store's
    fixtures: so the server stops before a test's PostgreSQL database is dropped, instead of after (then every
    stop waited 30 s for a connection to the dropped database)."""
    from jupyter_server.serverapp import ServerApp

    yield
    app = ServerApp.instance()
    try:
        jp_asyncio_loop.run_until_complete(app._cleanup())
    except (RuntimeError, SystemExit) as exc:
        print("ignoring cleanup error", exc)
    if hasattr(app, "kernel_manager"):
        app.kernel_manager.context.destroy()


@pytest.fixture
def jp_server_config(tmp_path, opensink_config, store_backend):
    return {
        "ServerApp": {
            # pytest-jupyter adds the terminals' extension to every server unless told otherwise; only the
            # walk of Jupyter's own routes needs it (``with_jupyterlab``), and it costs every test's start.
            "jpserver_extensions": {"jupyter_opensink": True, "jupyter_server_terminals": False},
            "reraise_server_extension_failures": True,
        },
        # Many servers start in one test process: frozen objects of finished tests would never be freed.
        "OpenSinkApp": {"db_dir": str(tmp_path / "opensink-db"), "freeze_heap_at_start": False,
                        **opensink_config, **store_backend},
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


@pytest.fixture(scope="session")
def pg_migrated_template(pg_cluster):
    """A database holding the product's schema and no rows, made once per test process to be copied.

    Copying it costs a test a fraction of what migrating a new database does (the DDL of every table
    and index); the migration itself keeps its own tests (tests/store/test_pgstore.py)."""
    import asyncio

    from jupyter_opensink.services import TABLES
    from jupyter_opensink.store import open_postgres

    url = pg_cluster.create_database()

    async def migrate() -> None:
        store = open_postgres(url, TABLES, fsync="never")
        await store.connect()
        await store.close()

    # A loop of its own that never becomes the current one (asyncio.run would unset the tests' loop).
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(migrate())
    finally:
        loop.close()
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture(scope="session")
def pg_app_databases(pg_cluster, pg_migrated_template):
    """This test process's databases with the product's schema, emptied between tests (tests/postgres.py)."""
    from .postgres import DatabasePool

    pool = DatabasePool(pg_cluster, pg_migrated_template)
    yield pool
    pool.close()


@pytest.fixture
def pg_app_database(pg_app_databases):
    """The URL of a database with the product's schema and no rows, for this test alone."""
    url = pg_app_databases.lend()
    yield url
    pg_app_databases.give_back(url)


def backend_params(request) -> dict[str, Any]:
    """Traits for the backend named by a ``backend`` fixture parameter."""
    if request.param == "postgres":
        return {"database_url": request.getfixturevalue("pg_app_database")}
    return {}


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any

    @property
    def error(self) -> str:
        # an error reply is {"error"}, plus "violations" when a value breaks its schema
        assert isinstance(self.body, dict) and set(self.body) - {"violations"} == {"error"}, self.body
        return self.body["error"]


@pytest.fixture
def opensink_app(jp_serverapp):
    """The running extension app (its store and services)."""
    return jp_serverapp.extension_manager.extension_points["jupyter_opensink"].app


@pytest.fixture
def api(http_server_client, jp_base_url, jp_serverapp):
    """``await api(method, "/v1/...", body, key=..., auth=...)`` -> Reply.

    ``auth`` is "token" (the Jupyter token, the default), "key" (needs ``key``) or None (no
    credential at all). ``chunked=True`` streams the body without a Content-Length. Never raises
    on an error status.
    """
    token = jp_serverapp.identity_provider.token

    async def call(method: str, path: str, body: Any = None, *, key: str | None = None, auth: str | None = "token",
                   headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
                   raw: bytes | None = None, chunked: bool = False, timeout: float = 30) -> Reply:
        sent = dict(headers or {})
        if key is not None:
            sent.setdefault("Authorization", f"Bearer {key}")
        elif auth == "token":
            sent.setdefault("Authorization", f"token {token}")
        # "/v1/..." is below the API root, "/opensink/..." below the server's base URL, and a path
        # starting with the base URL is taken as it is (Jupyter's own routes).
        if path.startswith(jp_base_url):
            url = path
        else:
            url = jp_base_url.rstrip("/") + (path if path.startswith("/opensink/") else "/opensink/api" + path)
        if params:
            from urllib.parse import urlencode
            url += "?" + urlencode(params)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        stream: dict[str, Any] = {}
        if chunked and data:
            async def produce(write, data=data):
                for start in range(0, len(data), 16 * 1024):
                    await write(data[start:start + 16 * 1024])

            stream, data = {"body_producer": produce}, None
        try:
            response: HTTPResponse = await http_server_client.fetch(
                url, method=method, headers=sent, body=data, allow_nonstandard_methods=True, request_timeout=timeout,
                follow_redirects=False, **stream)
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
def make_key(api, opensink_app):
    """``await make_key(scopes=[...], workspace_id=...)`` -> the secret of a new API key.

    ``expired=True``: a key whose ``expires_at`` has just passed.
    """

    async def create(*, expired: bool = False, **fields: Any) -> str:
        if expired:
            fields["expires_at"] = "2999-01-01T00:00:00Z"
        reply = await api("POST", "/v1/api-keys", {"name": "test key", **fields})
        assert reply.status == 201, reply.body
        if expired:  # the API only takes future times: move it into the past underneath
            await opensink_app.store.update("api_keys", reply.body["id"], {"expires_at": "2020-01-01T00:00:00.000Z"})
        return reply.body["key"]

    return create


@pytest.fixture
def login_cookie(api):
    """``await login_cookie()`` -> the Cookie header of a browser logged in to Jupyter (no XSRF token)."""

    async def login() -> dict[str, str]:
        first = await api("GET", "/v1/workspaces")  # token-authenticated: Jupyter sets its login cookie
        cookies = [c.split(";")[0] for c in first.headers.get_list("Set-Cookie") if c.startswith("username-")]
        assert cookies, first.headers
        return {"Cookie": "; ".join(cookies)}

    return login


@pytest.fixture
def objects(api, opensink_app):
    """``await objects()`` -> one object of every kind in the default workspace, by kind.

    Kinds are the routes' first path segments ("sinks", "agent-sessions"...), plus "public-slug" (a
    public sink's slug), "public-sinks" (its id), "link-requests" (a second pending input request) and
    "approval-links" (a link of it). The agent's execution endpoint refuses
    connections, so its deliveries are failures; the input request is pending.
    """

    async def post(path: str, body: Any = None) -> dict:
        reply = await api("POST", path, body)
        assert reply.status == 201, (path, reply.body)
        return reply.body

    async def make() -> dict[str, str]:
        sink = await post("/v1/sinks", {"name": "s"})
        public = await post("/v1/sinks", {"name": "public", "is_public": True, "public_slug": "walked-public"})
        item = await post("/v1/sink-items", {"sink_id": sink["id"], "title": "t"})
        await post("/v1/sink-items", {"sink_id": public["id"], "title": "shown"})
        agent = await post("/v1/agents", {"name": "a", "execution_endpoint": {"url": "http://127.0.0.1:9/agent"}})
        session = await post("/v1/agent-sessions", {"agent_id": agent["id"]})
        request = await post("/v1/agent-session-input-requests", {
            "session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "t", "message": "m",
            "schema": {"type": "object"}})
        link_request = await post("/v1/agent-session-input-requests", {
            "session_id": session["id"], "agent_id": agent["id"], "key": "k2", "title": "t", "message": "m",
            "schema": {"type": "object"}})
        link = await post(f"/v1/agent-session-input-requests/{link_request['id']}/links", {})
        activity = await post("/v1/agent-session-activities", {"session_id": session["id"], "type": "message"})
        job = await post("/v1/background-jobs", {"name": "j", "interval_minutes": 60, "agent_id": agent["id"],
                                                 "enabled": False})
        run = await post(f"/v1/background-jobs/{job['id']}/trigger")
        for _ in range(500):  # the run calls the agent's endpoint: a delivery record
            deliveries = (await api("GET", "/v1/execution-deliveries")).body["items"]
            if deliveries:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the triggered run made no delivery")
        workspace = [w for w in (await api("GET", "/v1/workspaces")).body["items"] if w["is_default"]][0]
        key = await post("/v1/api-keys", {"name": "k"})
        state = await api("PUT", "/v1/states/walked-ns/walked-key", {"value": 1})
        assert state.status == 201, state.body
        webhook = await post("/v1/webhooks", {"path": "walked-hook", "action": {
            "type": "create_item", "sink_id": sink["id"], "title": "/title"}})
        as_user = Principal(workspace_id=webhook["workspace_id"], is_user=True)
        await opensink_app.services.webhooks.invoke("walked-hook", as_user, {}, b'{"title": "walked"}')
        invocation = (await api("GET", "/v1/webhook-invocations")).body["items"][0]
        policy = await post("/v1/approval-policies", {"name": "p", "decision": "approve", "enabled": False,
                                                        "agent_id": agent["id"]})
        # A queued notebook run of the job and the agent, written as the service records one (a real run needs a
        # kernel: tests/test_notebook_runs.py runs them); cancelling it records its end.
        notebook_run = await opensink_app.store.insert("notebook_runs", {
            "workspace_id": job["workspace_id"], "path": "walked.ipynb", "job_id": job["id"], "agent_id": agent["id"],
            "session_id": session["id"], "status": "queued", "parameters": {"walked": True}, "started_at": None,
            "finished_at": None, "duration_ms": None, "output_path": "opensink-runs/walked.ipynb", "error": None,
            "reason": None})
        channel = await post("/v1/notification-channels", {"name": "walked", "url": "json://127.0.0.1:9/walked",
                                                            "enabled": False})
        tested = await api("POST", f"/v1/notification-channels/{channel['id']}/test")  # refused: a failed attempt
        assert tested.status == 200 and tested.body["delivered"] is False, tested.body
        notified = (await api("GET", "/v1/notification-deliveries")).body["items"][0]
        await opensink_app.services.request_log.flush()  # so the request log lists these calls
        return {"states": "walked-ns", "webhooks": webhook["id"], "webhook-invocations": invocation["id"],
                "hook-path": "walked-hook", "sinks": sink["id"], "sink-items": item["id"], "agents": agent["id"],
                "agent-configurations": agent["config_id"], "agent-sessions": session["id"],
                "agent-session-input-requests": request["id"], "agent-session-activities": activity["id"],
                "background-jobs": job["id"], "background-job-runs": run["id"], "workspaces": workspace["id"],
                "api-keys": key["id"], "execution-deliveries": deliveries[0]["id"],
                "public-slug": public["public_slug"], "public-sinks": public["id"],
                "link-requests": link_request["id"], "approval-links": link["id"],
                "approval-policies": policy["id"],
                "notebook-runs": notebook_run["id"],
                "notification-channels": channel["id"], "notification-deliveries": notified["id"]}

    return make


@pytest.fixture
def receiver(jp_asyncio_loop):
    """A live HTTP receiver on 127.0.0.1 (see tests/receivers.py)."""
    from .receivers import start_receiver

    recv, server = start_receiver()
    yield recv
    server.stop()
    jp_asyncio_loop.run_until_complete(server.close_all_connections())


@pytest.fixture
def jp_nbconvert_templates():
    """pytest-jupyter copies nbconvert's templates into every test's data directory; no test here exports."""


def _cache_jupyters_sys_info() -> None:
    """Every ``ServerApp`` asks ``get_sys_info``, which runs ``git`` when Jupyter's package lies inside a git
    checkout (a ``.venv`` in this one does): a process started for each of the hundreds of servers the tests
    make in one process. The answer cannot change while the process runs."""
    import functools

    from jupyter_server import serverapp

    serverapp.get_sys_info = functools.cache(serverapp.get_sys_info)


_cache_jupyters_sys_info()
