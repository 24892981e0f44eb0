"""The Jupyter server extension: configuration, wiring, start and stop."""

from __future__ import annotations

import datetime
import gc
import os
import socket
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Enum, Float, Int, List, Unicode, default

from . import surfaces
from .api import ApiContext
from .api.access_log import wrap_log_function
from .mcp import OnDemandEndpoint
from .runtime.credentials import CredentialWatch
from .runtime.dispatcher import Dispatcher
from .runtime.events import EventBus
from .runtime.relay import EventRelay
from .runtime.outbound import DEFAULT_ALLOWED, DEFAULT_BLOCKED, Outbound
from .runtime.scheduler import JobScheduler
from .runtime.streams import EventStreams
from .runtime.expiry import ExpiryScheduler
from .runtime.followups import FollowUpScheduler
from .runtime.notifier import Notifier
from .runtime.kernels import JupyterKernels
from .runtime.notebooks import NotebookRunner
from .runtime.periodic import Periodic
from .api.links import PAGE_PATH
from .services import TABLES, Services, followups
from .services.jobs import specs_of
from .services.notebook_runs import STOPPED_BY_SERVER
from .store import Store, TinyStore, open_postgres

#: How often notebook agents' kernels are looked at (a stopped or restarted kernel puts its agent offline).
KERNEL_WATCH_SECONDS = 2.0


class OpenSinkApp(ExtensionApp):
    """Serves the OpenSink agent API under ``{base_url}opensink/api/v1``."""

    name = "jupyter_opensink"
    load_other_extensions = True

    db_dir = Unicode(
        config=True,
        help="Directory of the embedded database (created if missing). "
             "Default: an 'opensink' folder in the Jupyter data directory.",
    )
    database_url = Unicode(
        "", config=True,
        help="PostgreSQL connection URL (postgresql://user:password@host:port/dbname). When set, the store "
             "lives in that database (needs the 'postgres' extra: pip install \"jupyter_opensink[postgres]\") "
             "and db_dir is not used. Empty (the default): the embedded TinyDB store in db_dir.",
    )
    database_schema = Unicode(
        "opensink", config=True, help="PostgreSQL schema holding OpenSink's tables (with database_url).",
    )
    database_pool_size = Int(
        10, config=True, help="Most PostgreSQL connections this server opens (with database_url).",
    )
    database_prepare_threshold = Int(
        5, allow_none=True, config=True,
        help="PostgreSQL: a statement run this many times on a connection is prepared there (parsed once, then "
             "sent by name). None: never prepare, for a pooler in transaction mode that cannot keep prepared "
             "statements (PgBouncer before 1.21, or without max_prepared_statements).",
    )
    fsync = Enum(
        ["always", "never"], "always", config=True,
        help="'always': every acknowledged write survives a power loss (writers share fsyncs). "
             "'never': writes survive a crash of the server but not of the machine.",
    )
    max_body_size = Int(
        5 * 1024 * 1024, config=True, help="Largest request body accepted on the API, in bytes (413 beyond).",
    )
    callback_timeout = Float(
        10.0, config=True, help="Seconds to wait for an agent's execution endpoint before marking it failed.",
    )
    callback_allowed_networks = List(
        Unicode(), list(DEFAULT_ALLOWED), config=True,
        help="Networks (CIDR) execution endpoints and job targets may resolve to. Default: any address.",
    )
    callback_blocked_networks = List(
        Unicode(), list(DEFAULT_BLOCKED), config=True,
        help="Networks (CIDR) they may never resolve to, checked at send time. Default: link-local "
             "(cloud metadata, 169.254.0.0/16 and fe80::/10) and fd00:ec2::254.",
    )
    event_replay_size = Int(
        10_000, config=True, help="Events kept for streams resuming with Last-Event-ID (older ids get a reset).",
    )
    event_queue_size = Int(
        1_000, config=True, help="Events one stream may fall behind before it is dropped with a reset.",
    )
    event_keepalive_seconds = Float(15.0, config=True, help="Seconds between keep-alive comments on idle streams.")
    body_timeout = Float(
        60.0, config=True,
        help="Seconds a client gets to send a whole request body; a slower one is disconnected.")
    request_log_max_entries = Int(
        100_000, config=True, help="Request-log entries kept (the oldest go first); 0 turns the log off.")
    request_log_max_days = Float(7.0, config=True, help="Days a request-log entry is kept.")
    api_key_cache_seconds = Float(
        2.0, config=True,
        help="Seconds an API key found valid is trusted before the database is asked again. Revoking the "
             "key ends it at once, on every server sharing the database; the bound applies only when a "
             "revocation relayed from another server is lost (0: ask on every request).")
    state_purge_seconds = Float(
        60.0, config=True,
        help="Seconds between purges of expired states, webhook de-duplication values and remembered "
             "webhook-ids from storage (0: never).")
    freeze_heap_at_start = Bool(
        True, config=True,
        help="Once the extension has started, move every object the server holds into the garbage "
             "collector's permanent generation (gc.freeze()), so later full collections walk only what "
             "was made since: the modules, configuration and loaded store of a started server made each "
             "full collection a loop stall of tens to hundreds of milliseconds.")
    shutdown_timeout = Float(
        10.0, config=True,
        help="At stop, seconds to let API requests in flight finish before the database closes.")
    mcp_enabled = Bool(
        True, config=True,
        help="Serve the Model Context Protocol endpoint at {base_url}opensink/mcp (API keys, same scopes).")
    mcp_max_wait_seconds = Float(
        600.0, config=True,
        help="Longest an MCP tool call (ask_human, get_input_request) may wait for a human's answer; longer "
             "waits poll with get_input_request.")
    mcp_progress_seconds = Float(
        10.0, config=True,
        help="While an MCP tool call waits for a human, seconds between the progress notifications it sends "
             "(when the client asked for progress).")
    mcp_session_idle_seconds = Float(
        30 * 60.0, config=True, help="Seconds an idle MCP session is kept before the client must start anew.")
    mcp_sessions_per_credential = Int(
        20, min=1, config=True,
        help="MCP handshake sessions one credential (API key, or the Jupyter user) may keep open. Opening one "
             "more ends that credential's least recently used idle session; when every one is answering a "
             "request, the new one is refused (429).")
    approval_link_url = Unicode(
        "", config=True,
        help="The server's address as approvers reach it, e.g. https://jupyter.example.com/ (with the base URL): "
             "approval links are made below it. Empty (the default): the scheme and host of the request that "
             "creates the link, plus the server's base URL.")
    approval_link_guesses_per_minute = Int(
        10, config=True,
        help="Unknown approval-link tokens one client address may try per minute; beyond, its page "
             "requests get 429 until a minute has passed. 0 turns the limit off.")
    notebook_agent_hold_seconds = Float(
        86400.0, config=True,
        help="How long an answer to a notebook agent whose kernel stopped waits for an agent of the same name to "
             "serve again (a re-run of its cell) before its session fails.")
    notebook_max_concurrent = Int(
        2, min=1, config=True,
        help="Notebook runs (jobs' and agents' notebooks) that may have a kernel at once; the others wait in "
             "the order they came.")
    notebook_output_dir = Unicode(
        "opensink-runs", config=True,
        help="Where each notebook run's executed copy is written: relative to the server's root_dir (so it "
             "opens in JupyterLab), or absolute.")
    notification_timeout = Float(
        10.0, config=True,
        help="Seconds one attempt to send a notification (email, Slack, ntfy...) may take before it counts as "
             "failed. Sending never delays the request that caused it.")
    notification_retries = Int(
        2, min=0, config=True, help="Retries after a failed notification attempt (each attempt is recorded).")
    notification_retry_seconds = Float(
        5.0, config=True, help="Seconds before the first retry of a failed notification; doubled for each next one.")
    notification_workers = Int(
        4, min=1, config=True,
        help="Threads sending notifications (Apprise blocks): at most this many sends run at once, the rest wait.")
    notification_min_remind_seconds = Float(
        60.0, config=True,
        help="The shortest remind_every_seconds an input request may ask for (requests asking for less get 400).")
    compact_min_bytes = Int(
        32 * 1024 * 1024, config=True,
        help="Journal size that triggers background compaction into the snapshot "
             "(or the snapshot's size, when larger).",
    )

    @default("db_dir")
    def _default_db_dir(self) -> str:
        return os.path.join(jupyter_data_dir(), "opensink")

    #: Set once every part is built: a load that failed (invalid configuration) has nothing to start or stop
    #: but what it opened (the store), so a later stop does not fail half-way and hang the server's exit.
    _wired = False
    store: Store | None = None

    def initialize_settings(self) -> None:
        # Configuration is checked before anything is opened: invalid networks fail the load here.
        self.outbound = Outbound(timeout=self.callback_timeout, allowed=self.callback_allowed_networks,
                                 blocked=self.callback_blocked_networks)
        self.store = self._open_store()
        self.events = EventBus(replay_size=self.event_replay_size)
        notifier = Notifier(timeout=self.notification_timeout, workers=self.notification_workers,
                            permitted=self.outbound.permitted)
        self.services = Services(self.store, self.events, self.outbound, notifier)
        self.services.notebook_agents.hold_seconds = self.notebook_agent_hold_seconds
        self.services.api_keys.cache_seconds = self.api_key_cache_seconds
        self.notebook_runner = NotebookRunner(getattr(self.serverapp, "kernel_spec_manager", None),
                                              max_concurrent=self.notebook_max_concurrent)
        self._configure_notebook_runs()
        self.services.input_requests.min_remind_seconds = self.notification_min_remind_seconds
        self.services.notifications.retries = self.notification_retries
        self.services.notifications.retry_seconds = self.notification_retry_seconds
        self.dispatcher = Dispatcher(self.events, {"input_request.resolved": self.services.deliveries.on_resolved,
                                                   "agent.updated": self.services.deliveries.on_agent_updated})
        self.dispatcher.start()
        # Notifications go out on a dispatcher of their own: a restart's re-sent callbacks never notify again.
        self.notify_dispatcher = Dispatcher(self.events, self.services.notifications.reactions)
        self.notify_dispatcher.start()
        notifications = self.services.notifications
        self.follow_ups = FollowUpScheduler(self.events, pending=notifications.pending_with_follow_ups,
                                            wanted=followups.has_follow_ups, next_due=followups.next_due,
                                            missed=followups.missed, fire=notifications.follow_up)
        self.scheduler = JobScheduler(self.events, run=self.services.jobs.run_scheduled, specs=specs_of)
        self.services.request_log.max_entries = self.request_log_max_entries
        self.services.request_log.max_age = datetime.timedelta(days=self.request_log_max_days)
        self.request_log_flush = Periodic("writing the request log", 1.0, self.services.request_log.flush)
        self.state_purge = Periodic("purging expired states and webhook records", self.state_purge_seconds,
                                    self.services.purge_expired)
        self.expiry = ExpiryScheduler(self.events, expire=self.services.input_requests.expire,
                                      pending=self.services.input_requests.pending_with_expiry)
        self.relay = None
        if self.store.shared:  # other servers on this database: hear their changes, share ours
            self.relay = EventRelay(self.events, publish_many=self.store.publish_many, listen=self.store.listen)
        self.kernel_watch = Periodic("watching notebook agents' kernels", KERNEL_WATCH_SECONDS,
                                     self.services.notebook_agents.watch)
        # A server sharing the database may die with callbacks unsent: look for them now and then.
        self.outbox_sweep = Periodic("looking for abandoned callbacks", self.callback_timeout + 30,
                                     self._resubmit_unsent)
        # What a revoked or expired key holds open (event streams, MCP sessions and requests) ends.
        self.credentials = CredentialWatch(self.events)
        self.streams = EventStreams(self.events, queue_size=self.event_queue_size,
                                    keepalive=self.event_keepalive_seconds, credentials=self.credentials)
        self.mcp = (OnDemandEndpoint(self.services, max_wait=self.mcp_max_wait_seconds,
                                     max_body_size=self.max_body_size,
                                     session_idle_timeout=self.mcp_session_idle_seconds,
                                     progress_interval=self.mcp_progress_seconds,
                                     sessions_per_credential=self.mcp_sessions_per_credential,
                                     credentials=self.credentials)
                    if self.mcp_enabled else None)
        if self.mcp is None:
            self.services.discovery.features.remove("mcp")
        self.api_context = ApiContext(services=self.services, max_body_size=self.max_body_size,
                                      routes=surfaces.routes(self.mcp), streams=self.streams,
                                      body_timeout=self.body_timeout, public_url=self.approval_link_url)
        web_settings = self.serverapp.web_app.settings if self.serverapp else {}
        self.settings["log_function"] = wrap_log_function(web_settings.get("log_function"), surfaces.REDACTORS)
        self.log.info("OpenSink database: %s (fsync=%s)", self._describe_database(), self.fsync)
        self._wired = True

    def _configure_notebook_runs(self) -> None:
        runs = self.services.notebook_runs
        runs.runner = self.notebook_runner
        root = getattr(self.serverapp, "root_dir", None)
        if root:
            runs.root_dir = Path(root).expanduser().resolve()
            runs.output_dir = runs.root_dir / Path(self.notebook_output_dir).expanduser()

    def _open_store(self) -> Store:
        if self.database_url:
            return open_postgres(self.database_url, TABLES, fsync=self.fsync, schema=self.database_schema,
                                 max_size=self.database_pool_size,
                                 prepare_threshold=self.database_prepare_threshold)
        return TinyStore.open(Path(self.db_dir), TABLES, fsync=self.fsync, compact_min_bytes=self.compact_min_bytes)

    def _describe_database(self) -> str:
        if not self.database_url:
            return self.db_dir
        from urllib.parse import urlsplit

        parts = urlsplit(self.database_url)
        host = parts.hostname or "local socket"
        port = f":{parts.port}" if parts.port else ""
        return f"PostgreSQL {host}{port}{parts.path or ''} (schema {self.database_schema})"  # no password

    def initialize_handlers(self) -> None:
        self.handlers.extend(surfaces.handlers(self.api_context,
                                               link_guesses_per_minute=self.approval_link_guesses_per_minute))

    def kernel_url(self) -> str:
        """The OpenSink root as kernels on this machine reach it."""
        server = self.serverapp
        ip = server.ip
        host = "127.0.0.1" if ip in ("", "0.0.0.0", "*", "localhost") else "[::1]" if ip == "::" else ip
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        scheme = "https" if server.certfile else "http"
        return f"{scheme}://{host}:{server.port}{server.base_url}opensink"

    def kernel_key_owner(self) -> str:
        """Who mints this server's kernel key: on a shared database a start revokes only its own."""
        return f"{socket.gethostname()} {self.kernel_url()}"

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        if not self._wired:
            return  # the load failed (and said why): nothing to start
        await self.store.connect()  # PostgreSQL: connect and migrate now rather than on the first request
        if self.relay is not None:
            await self.relay.start()
        await self.services.start()
        # Kernels launched from now on inherit these: Client() needs no arguments there.
        os.environ["OPENSINK_URL"] = self.kernel_url()
        os.environ["OPENSINK_API_KEY"] = await self.services.api_keys.mint_kernel_key(
            owner=self.kernel_key_owner())
        default = await self.services.workspaces.get(await self.services.workspaces.default_id())
        os.environ["OPENSINK_EXECUTION_SECRET"] = default["execution_secret"]
        await self.expiry.start()
        link_root = self.approval_link_url or serverapp.connection_url
        self.services.notifications.link_url = lambda token: link_root.rstrip("/") + "/" + PAGE_PATH + token
        await self.follow_ups.start()
        self.state_purge.start()
        self.request_log_flush.start()
        await self.services.jobs.fail_interrupted_runs()
        self.services.notebook_runs.server_id = self.kernel_key_owner()
        await self.services.notebook_runs.fail_interrupted_runs()
        if self.notebook_runner.kernel_spec_manager is None:  # made before the server had one
            self.notebook_runner.kernel_spec_manager = getattr(serverapp, "kernel_spec_manager", None)
        self._configure_notebook_runs()
        # Notebook agents of kernels that ended with the last server are offline before any callback is retried.
        self.services.agents.kernels = JupyterKernels(getattr(serverapp, "kernel_manager", None),
                                                      self.kernel_key_owner())
        await self.services.notebook_agents.watch()
        self.kernel_watch.start()
        # The outbound client (its transport's import and the CA bundle: ~0.3 s) is made now, not by the
        # first callback or job.
        self.outbound.client  # noqa: B018
        await self._resubmit_unsent()  # callbacks a stop or crash interrupted
        if self.store.shared:
            self.outbox_sweep.start()
        self.scheduler.start(await self.services.jobs.all_jobs())
        if self.freeze_heap_at_start:
            # What exists now lives as long as the server: full collections need not walk it again.
            # Objects that become garbage later in a reference cycle among these are never freed
            # (a few at most: nothing of the server's start-up is dropped in cycles while it runs).
            gc.collect()
            gc.freeze()

    async def _resubmit_unsent(self) -> None:
        for request in await self.services.deliveries.unsent():
            self.dispatcher.submit("input_request.resolved", request)

    async def stop_extension(self) -> None:
        if not self._wired:  # the load failed: close what it opened, if anything
            if self.store is not None:
                await self.store.close()
            return
        await self.outbox_sweep.stop()
        await self.kernel_watch.stop()
        self.streams.close_all()  # live event streams end
        self.credentials.close()
        if self.mcp is not None:
            # calls waiting for a human answer with a pending handle, then MCP sessions end
            await self.mcp.stop(self.shutdown_timeout)
        # Runs in flight end as cancelled and their kernels are shut down: nothing is left running.
        await self.notebook_runner.stop(STOPPED_BY_SERVER)
        await self.scheduler.stop()  # nothing fires after this
        left = await self.api_context.drain(self.shutdown_timeout)  # requests in flight get their answers
        if left:
            self.log.warning("OpenSink: %d request(s) still running after %.0f s; stopping anyway",
                             left, self.shutdown_timeout)
        await self.expiry.stop()
        self.services.notifications.stop()  # retries waiting for their turn give up
        await self.follow_ups.stop()
        await self.state_purge.stop()
        await self.request_log_flush.stop()
        try:
            await self.services.request_log.flush()  # what the last requests left
        except Exception as exc:  # the database went first (a networked one): the log is not worth failing for
            self.log.warning("OpenSink: the last request-log entries were not written: %s", exc)
        await self.dispatcher.stop()  # callbacks in flight finish (bounded by callback_timeout)
        await self.notify_dispatcher.stop()  # notifications in flight finish (bounded by notification_timeout)
        await self.services.stop()
        if self.relay is not None:
            await self.relay.stop()
        await self.outbound.close()
        await self.store.close()
