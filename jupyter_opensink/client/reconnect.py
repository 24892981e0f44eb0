"""The one reconnect policy of the client's long-lived requests: the event streams and both
``wait_for_resolution``s.

A connection that drops (the server restarts, a proxy cuts it) is opened again
after a pause: reconnecting at once would hammer a server that is down or still
starting, and every client of a restarted server would knock in step. The pause
starts short, doubles with each attempt that brings nothing, is capped, and is
jittered (cut by up to half at random) so that many clients spread out; a good
event starts it over. A wait given a timeout never pauses past it.

Only transport failures are retried: an HTTP error (a revoked key, a request
that is gone) is an answer, and a read timeout the caller chose is theirs to
see. A connection that never worked is not retried either: a wrong URL or a
server that is not there is reported at once instead of waited on.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import httpx

#: A dropped or refused connection (ConnectError, ReadError, WriteError, CloseError, a broken
#: response, an unreachable host): worth trying again.
DROPPED: tuple[type[Exception], ...] = (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ConnectTimeout)

#: Seconds before the first reconnect, and the most any pause lasts.
FIRST_PAUSE = 0.2
LONGEST_PAUSE = 5.0


class Backoff:
    """Pauses before successive reconnects: ``first`` doubling up to ``longest``, each jittered down.

    The n-th pause lies in ``[b / 2, b]`` with ``b = min(longest, first * 2**n)``.
    """

    def __init__(self, first: float = FIRST_PAUSE, longest: float = LONGEST_PAUSE,
                 rng: Callable[[], float] = random.random):
        self.first, self.longest, self._rng = first, longest, rng
        self._attempt = 0

    def next(self) -> float:
        bound = min(self.longest, self.first * 2.0 ** self._attempt)
        self._attempt += 1
        return bound * (1 - self._rng() / 2)

    def reset(self) -> None:
        self._attempt = 0


class Reconnect:
    """The reconnects of one long-lived request: its backoff, its deadline, whether it ever connected."""

    def __init__(self, timeout: float | None = None, backoff: Backoff | None = None):
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.backoff = backoff or Backoff()
        self.connected = False

    def opened(self) -> None:
        """The connection worked once: from now on a drop is retried rather than raised."""
        self.connected = True

    def succeeded(self) -> None:
        """A good event (or a good look at what is awaited): the next drop starts from the first pause."""
        self.connected = True
        self.backoff.reset()

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative); None without one."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def pause(self) -> float:
        """The next pause, cut short at the deadline."""
        pause = self.backoff.next()
        remaining = self.remaining()
        return pause if remaining is None else min(pause, remaining)

    def sleep(self) -> None:
        time.sleep(self.pause())

    async def asleep(self) -> None:
        await asyncio.sleep(self.pause())
