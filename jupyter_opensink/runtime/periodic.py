"""Runs housekeeping (purging expired states...) every few seconds on the event loop.

The work itself is a callable handed in by the app, so this module imports
nothing above it; a failing run is logged and the next one still comes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float, work: Callable[[], Awaitable[Any]]):
        self.name = name
        self.interval = interval
        self._work = work
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None and self.interval > 0:
            self._task = asyncio.ensure_future(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._work()
            except Exception:
                log.exception("%s failed; trying again in %.0f s", self.name, self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
