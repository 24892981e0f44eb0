"""Sending notifications through Apprise, off the event loop, bounded in time and threads.

Apprise speaks to about a hundred services through URLs (``mailto://``, ``slack://``, ``ntfy://``,
``json://``...), and it blocks: every send runs on a small thread pool of its own, so a slow service
never holds the event loop, and the loop stops waiting after ``timeout`` seconds whatever the
service does (its socket timeouts are set to the same bound, so the thread comes back too).

A channel's URL holds credentials. It is only ever shown through :meth:`Notifier.mask` (Apprise's
privacy form, with the values of headers and other fields it sends and any other secret part starred), and the reasons a send failed
are scrubbed of every secret part of the URL before anyone sees them. This is the one module that
imports Apprise (tests/test_layers.py).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise

log = logging.getLogger(__name__)

MASK = "****"
#: Secret parts shorter than this are not scrubbed from messages (a one-letter password would
#: star every such letter of a reason); they are still masked in the URL shown.
MIN_SCRUBBED = 3
#: Longest failure reason kept (Apprise's warnings can be many lines).
MAX_REASON = 500


class BadChannelUrl(ValueError):
    """A URL Apprise cannot use; the message says why without repeating the URL."""


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None
    duration_ms: float


@functools.lru_cache(maxsize=256)
def _secret_parts(url: str) -> tuple[str, ...]:
    """Every part of ``url`` that may be a credential: the user's password, path segments and query values
    that Apprise's privacy form hides, and the values of headers and fields it sends (``+Name=value``...).
    Longest first, for scrubbing. Kept per URL: a channel's URL is read for every message it is sent."""
    parts = urlsplit(url)
    found: set[str] = set()
    if parts.password:
        found.add(unquote(parts.password))
    try:
        plugin = apprise.Apprise.instantiate(url)
    except Exception:  # a URL that does not load has nothing of its own to hide beyond its raw pieces
        plugin = None
    shown = plugin.url(privacy=True) if plugin is not None else ""
    host = parts.netloc.rpartition("@")[2].rsplit(":", 1)[0]  # as written (hostname is lowercased)
    candidates = [parts.username or "", host, *parts.path.split("/")]
    query = parse_qsl(parts.query.replace("+", "%2B"), keep_blank_values=True)  # "+Name" is a header, not " Name"
    candidates += [value for _, value in query]
    for candidate in (unquote(c) for c in candidates):
        if candidate and candidate not in shown and candidate not in {"localhost"}:
            try:
                ipaddress.ip_address(candidate)
                continue  # an address is where it goes, not a secret
            except ValueError:
                found.add(candidate)
    for name, value in query:
        if name[:1] in "+-:" and value:  # headers, query parameters or payload fields to send: tokens...
            found.add(value)
    return tuple(sorted(found, key=len, reverse=True))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if len(secret) >= MIN_SCRUBBED:
            text = text.replace(secret, MASK)
    return text


def keep_apprise_quiet() -> None:
    """Apprise's own log lines may carry a URL whole (``Unparseable URL ...``): none reaches the server's log.

    Its records stop at its logger (a null handler, no propagation); the capture Apprise attaches to that
    same logger for each send still sees them, and the reasons it keeps reach the delivery records, scrubbed.
    """
    apprise_log = logging.getLogger("apprise")
    apprise_log.propagate = False
    apprise_log.setLevel(logging.WARNING)  # the captures keep warnings and errors only: nothing finer is made
    if not any(isinstance(h, logging.NullHandler) for h in apprise_log.handlers):
        apprise_log.addHandler(logging.NullHandler())


class Notifier:
    """Loads, masks and sends Apprise URLs. ``permitted(address)`` is the server's URL policy (the same
    networks execution endpoints may reach): the host a channel's URL names is checked with it before
    every send."""

    def __init__(self, *, timeout: float, workers: int = 4,
                 permitted: Callable[[str], bool] = lambda address: True):
        keep_apprise_quiet()
        self.timeout = timeout
        self.permitted = permitted
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="opensink-notify")
        # Sends beyond the pool's threads wait here, on the loop, so a send's timeout counts its own time only.
        self._slots: asyncio.Semaphore | None = None
        self._closing = False
        # service_timeout=0: no deadline of Apprise's own, which would move each send to Apprise's thread pool.
        self._asset = apprise.AppriseAsset(async_mode=False, secure_logging=True, service_timeout=0)

    # -- URLs -------------------------------------------------------------------------------------
    def load(self, url: str) -> apprise.NotifyBase:
        """The service ``url`` names, or ``BadChannelUrl`` saying why (never echoing the URL)."""
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if not scheme:
            raise BadChannelUrl("must be an Apprise URL such as mailto://, slack://, ntfy:// or json://")
        plugin = apprise.Apprise.instantiate(url, asset=self._asset)
        if plugin is None:
            if not self._known(scheme):
                raise BadChannelUrl(f"{scheme}:// is not a service Apprise knows")
            raise BadChannelUrl(f"Apprise cannot use this {scheme}:// URL (a part is missing or malformed; "
                                "see the service's page in Apprise's documentation)")
        return plugin

    @staticmethod
    def _known(scheme: str) -> bool:
        from apprise.manager_plugins import NotificationManager

        return scheme in NotificationManager()

    def mask(self, url: str) -> str:
        """``url`` as a person may see it again: Apprise's privacy form, every secret part starred."""
        try:
            shown = self.load(url).url(privacy=True)
        except BadChannelUrl:
            shown = url.split("://", 1)[0] + "://" + MASK
        return scrub(shown, _secret_parts(url))

    # -- sending ----------------------------------------------------------------------------------
    async def send(self, url: str, title: str, body: str) -> SendResult:
        """One attempt; never raises: whatever failed is in the result, its reason scrubbed of the URL's
        secrets. Waits at most ``timeout`` seconds (plus name resolution for the URL policy)."""
        started = time.perf_counter()
        secrets = _secret_parts(url)

        def result(error: str | None) -> SendResult:
            reason = scrub(error, secrets)[:MAX_REASON] if error else None
            return SendResult(error is None, reason, round((time.perf_counter() - started) * 1000, 2))

        try:
            plugin = self.load(url)
        except BadChannelUrl as exc:
            return result(str(exc))
        refused = await self._refused(plugin)
        if refused:
            return result(refused)
        if self._slots is None:  # made lazily: it belongs to the running loop
            self._slots = asyncio.Semaphore(self.workers)
        await self._slots.acquire()
        if self._closing:
            self._slots.release()
            return result("not sent: the server was stopping")
        started = time.perf_counter()  # the time waited for a free thread is not the service's
        future = asyncio.get_running_loop().run_in_executor(self._pool, self._send_blocking, plugin, title, body)
        # The slot is the thread's: it is free again when the send ends, not when the loop stops waiting for
        # it, so no more than ``workers`` sends ever occupy threads and the rest wait here, on the loop.
        future.add_done_callback(lambda _: self._slots.release())
        try:
            error = await asyncio.wait_for(asyncio.shield(future), self.timeout + 1.0)
        except asyncio.TimeoutError:
            return result(f"timed out after {self.timeout:g} s")
        except Exception as exc:  # a plugin bug: still one failed attempt
            return result(f"the notification could not be sent: {type(exc).__name__}")
        if error and time.perf_counter() - started >= self.timeout * 0.95 and not error.startswith("timed out"):
            error = f"timed out after {self.timeout:g} s ({error})"  # the socket's timeout, in Apprise's words
        return result(error)

    def _send_blocking(self, plugin: apprise.NotifyBase, title: str, body: str) -> str | None:
        """On a pool thread: send, and return None or why it failed (Apprise's warnings for this call)."""
        plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, self.timeout)
        plugin.socket_read_timeout = self.timeout
        sender = apprise.Apprise(asset=self._asset)
        sender.add(plugin)
        # Plain text as written: left to guess, Apprise would render it as HTML and fold the lines of its text part.
        # No call deadline: with one, Apprise would run the send on a pool of its own; this thread is the pool,
        # and the socket timeouts above bound it.
        with sender.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT,
                           log_level=logging.WARNING) as outcome:
            if outcome:
                return None
            reasons = [entry.message for entry in outcome.logs()]  # warnings and errors of this call only
        return "; ".join(dict.fromkeys(reasons)) or "the service did not accept the notification"

    async def _refused(self, plugin: apprise.NotifyBase) -> str | None:
        """Why the URL policy refuses the host this URL names (None when it may be reached).

        Only a host the URL itself names is checked (a json:// address, a mailto:// URL's SMTP server,
        a self-hosted ntfy): services reached at their own public address (Slack, Teams...) name none.
        Apprise resolves the name again when it connects, so unlike callbacks the address is not pinned.
        """
        host = (getattr(plugin, "smtp_host", None) or getattr(plugin, "host", None) or "").strip("[]")
        if not host:
            return None
        try:
            addresses = [ipaddress.ip_address(host).compressed]
        except ValueError:
            if host != "localhost" and "." not in host:
                return None  # a token in the host's place (slack://T.../...), not a network name
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except OSError:
                return None  # Apprise will say it cannot connect
            addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:
            if not self.permitted(address):
                return f"{host} resolves to {address}, which the server's URL policy blocks"
        return None

    def stop_waiting(self) -> None:
        """Sends still waiting for a thread give up at once (the server is stopping); those running finish
        within their timeout."""
        self._closing = True

    async def close(self) -> None:
        self._closing = True
        self._pool.shutdown(wait=False, cancel_futures=True)
