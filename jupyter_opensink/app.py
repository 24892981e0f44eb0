"""The Jupyter server extension: configuration, wiring, start and stop."""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Enum, Float, Int, Unicode, default

from .api import ApiContext, build_handlers
from .api.access_log import wrap_log_function
from .runtime.events import EventBus
from .runtime.expiry import ExpiryScheduler
from .services import TABLES, Services
from .store import TinyStore


class OpenSinkApp(ExtensionApp):
    """Serves the OpenSink agent API under ``{base_url}opensink/api/v1``."""

    name = "jupyter_opensink"
    load_other_extensions = True

    db_dir = Unicode(
        config=True,
        help="Directory of the embedded database (created if missing). "
             "Default: an 'opensink' folder in the Jupyter data directory.",
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
    compact_min_bytes = Int(
        32 * 1024 * 1024, config=True,
        help="Journal size that triggers background compaction into the snapshot "
             "(or the snapshot's size, when larger).",
    )

    @default("db_dir")
    def _default_db_dir(self) -> str:
        return os.path.join(jupyter_data_dir(), "opensink")

    def initialize_settings(self) -> None:
        self.store = TinyStore.open(Path(self.db_dir), TABLES, fsync=self.fsync,
                                    compact_min_bytes=self.compact_min_bytes)
        self.events = EventBus()
        self.services = Services(self.store, self.events)
        self.expiry = ExpiryScheduler(self.events, expire=self.services.input_requests.expire,
                                      pending=self.services.input_requests.pending_with_expiry)
        self.api_context = ApiContext(services=self.services, max_body_size=self.max_body_size)
        web_settings = self.serverapp.web_app.settings if self.serverapp else {}
        self.settings["log_function"] = wrap_log_function(web_settings.get("log_function"))
        self.log.info("OpenSink database: %s (fsync=%s)", self.db_dir, self.fsync)

    def initialize_handlers(self) -> None:
        self.handlers.extend(build_handlers(self.api_context))

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        await self.services.start()
        await self.expiry.start()

    async def stop_extension(self) -> None:
        await self.expiry.stop()
        await self.services.stop()
        await self.store.close()
