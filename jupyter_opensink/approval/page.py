"""GET/POST {base_url}opensink/approve/<token>: the page that answers one input request through an approval link.

It needs no Jupyter login: the token in the URL is the only credential (``api/auth.py``'s
``LINK_TOKEN``, turned into a principal for this one request as every credential is), and it opens
this one request's form, nothing else. The page carries no script and loads nothing (its CSP says so);
the request's evidence (its ``context``) is shown through ``evidence.py``, images inline as ``data:``
URIs, which the CSP allows only on a page that shows one.

What the person may answer follows the request's ``decisions``: without them, one Submit sends the form
(the hosted API's way); with them, a button each (``_action``): Approve sends the form, Reject sends only
the comment (the form is not read, so a half-filled one never blocks a no), Reply needs the comment.

Forged submissions: the first view sets a random cookie (HttpOnly, SameSite=Strict, scoped to the
approve path) and puts HMAC-SHA256(the link's own stored form key, that cookie) in a hidden field. A
POST must bring both and they must match, so another site can neither make a browser submit (the
cookie stays home) nor make up the field (the key never leaves the server). Jupyter's own XSRF check
needs a Jupyter login, so it is not used here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from pathlib import Path
from typing import Any

import jinja2
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from markupsafe import Markup
from tornado import httputil, web

from .. import evidence, forms
from ..ids import parse_time
from ..errors import Conflict, Gone, Invalid, NotFound, Throttled
from ..services.access import Principal
from ..services.links import ApprovalLinks
from ..services.schemas import SchemaMismatch
from ..services.secrets import new_token
from ..api import auth
from ..api.access_log import LeanAccessLog
from ..api.body import StreamedBody
from ..api.errors import is_expected, status_for
from ..api.handler import ApiContext
from .ratelimit import GuessLimiter, client_group

log = logging.getLogger("jupyter_opensink.approval")
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined)


def _moment(value: str | None) -> str:
    """An API time as a person reads it. The page runs no script, so it cannot know the reader's time zone:
    it says UTC, which the other surfaces also name when they show a time (``7 Dec 2026, 14:05 UTC``)."""
    if not value:
        return ""
    at = parse_time(value)
    return f"{at.day} {at:%b %Y, %H:%M} UTC"


TEMPLATES.filters["moment"] = _moment
COOKIE = "opensink-approve"
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{32,64}\Z")
#: Largest form body the page reads (or max_body_size if smaller): a form of typed answers is small, and
#: the body is counted while it arrives, so a bigger or chunked one is never held in memory.
FORM_MAX = 64 * 1024
#: Page fields that are not the schema's (its controls are all named f-...).
CSRF_FIELD, NAME_FIELD, ACTION_FIELD, ZONE_FIELD = "_csrf", "_name", "_action", "_zone"
COMMENT_FIELD = "_comment"
#: Longest comment, as the API's resolve takes it.
COMMENT_MAX = 4000
#: The buttons a request's ``decisions`` offer, in the order shown: the first is the one Enter presses,
#: so Reject never comes first while another is offered.
BUTTONS = (("approve", "Approve"), ("respond", "Reply"), ("reject", "Reject"))
#: The done page's heading, by the decision recorded.
DONE = {"approve": "Approved", "reject": "Rejected", "respond": "Reply sent", None: "Answer sent"}


NO_REPLY = "Comment: write your reply: it is what the agent receives instead of a decision"
NOT_OFFERED = "This request is answered with one of the buttons below."
NOT_VERIFIED = ("The form could not be verified (it was not sent from this page, or your browser did not send back "
                "its cookie). Allow cookies for this site and submit again; your entries are kept.")
CHANGED_MEANWHILE = ("The request changed while your answer was being saved, so it was not saved. Submit again; "
                     "if the request was answered meanwhile, the page will say so.")
#: What an error page says, by status: (heading, text).
NOTICES = {
    400: ("Bad request", "The form could not be read."),
    403: ("Not allowed", "This page cannot be opened at this address."),
    404: ("Link not found", "This approval link is not valid. Check that you copied all of it."),
    405: ("Not allowed", "Open the link in a browser."),
    409: ("Not saved", "The request changed at the same moment. Open the link again."),
    410: ("Link no longer valid", "This approval link can no longer be used."),
    413: ("Too large", "The form sent is larger than this server accepts."),
    429: ("Too many attempts", "Too many invalid approval links were tried from your address."),
    503: ("Not available", "The server cannot take answers now. Please try again later."),
}


def logged_path(path: str, base_url: str) -> str | None:
    """``path`` as logs show it when it lies below ``{base_url}opensink/approve``, else None.

    Whatever follows ``approve/`` may hold a link's token (a credential), whether or not a route
    answers the path (``<token>/x`` and ``<token>//`` reach Jupyter's 404 page): only its first
    characters are kept, enough to tell requests apart.
    """
    page = url_path_join(base_url, "opensink/approve")
    if not path.startswith(page):
        return None
    rest = path[len(page):].lstrip("/")
    return f"{page}/{rest[:4]}…" if rest else path


@web.stream_request_body
class ApprovalPageHandler(LeanAccessLog, StreamedBody, JupyterHandler):
    """The approval page; ``context`` gives the services, ``limiter`` counts unknown tokens per address.

    The body is streamed (``api/body.py``) so tornado does not buffer it whole before ``prepare``:
    past ``body_limit`` bytes the rest is read and dropped (413), and one that trickles in slower
    than ``body_timeout`` allows is cut off.
    """

    log_successes = True  # every use of a link is worth a line
    #: Who holds the link, once its token was checked (``_open``).
    principal: Principal

    def initialize(self, context: ApiContext, limiter: GuessLimiter) -> None:  # type: ignore[override]
        self.context = context
        self.limiter = limiter
        self.body_limit = min(FORM_MAX, context.max_body_size)
        self.body_timeout = context.body_timeout
        self.start_body()

    def on_finish(self) -> None:
        self.body_arrived()
        super().on_finish()

    def _read_body(self) -> None:
        """Parses the streamed body as tornado would have, so ``get_body_argument`` works as usual."""
        self.body_arrived()
        if self.body_too_large:
            raise web.HTTPError(413)
        self.request.body = self.body_bytes
        self.request.body_arguments = {}
        httputil.parse_body_arguments(self.request.headers.get("Content-Type", ""), self.request.body,
                                      self.request.body_arguments, {}, self.request.headers)

    # -- headers: nothing loads, nothing leaks, nothing frames the page -------------------------
    @property
    def nonce(self) -> str:
        if getattr(self, "_nonce", None) is None:
            self._nonce = new_token(16)
        return self._nonce

    #: Whether the page shows an image (evidence), the one thing it ever loads, from ``data:`` only.
    inline_images = False

    @property
    def content_security_policy(self) -> str:
        images = "data:" if self.inline_images else "'none'"
        return (f"default-src 'none'; style-src 'nonce-{self.nonce}'; img-src {images}; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'")

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("X-Robots-Tag", "noindex, nofollow")

    async def prepare(self) -> None:  # type: ignore[override]
        # No Jupyter identity: the token is the credential (``_open``). The checks every surface makes
        # first stay: the Host header (DNS rebinding), then the declared body size.
        self.current_user = self._jupyter_current_user = None
        auth.require_known_host(self)
        if self.request.method == "POST":
            self.expect_body()
        auth.refuse_oversized(self.request.headers, self.body_limit)

    def check_xsrf_cookie(self) -> None:
        """The page has its own anti-forgery token (see the module docstring)."""

    @property
    def logged_path(self) -> str:
        """The path for logs: the token is a credential, so only its first characters are kept."""
        return logged_path(self.request.path, self.base_url)

    @property
    def address(self) -> str:
        """Who the guess limit counts: the client's IPv4 address or IPv6 /64 (``ratelimit.client_group``)."""
        return client_group(self.request.remote_ip or "unknown")

    # -- rendering ---------------------------------------------------------------------------
    def _page(self, status: int, template: str, **values: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(TEMPLATES.get_template(template).render(nonce=self.nonce, **values))

    def _notice(self, status: int, heading: str, text: str, hint: str = "") -> None:
        self._page(status, "notice.html", heading=heading, text=text, hint=hint)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        heading, text = NOTICES.get(status_code, ("Something went wrong", "Please try again later."))
        hint = ""
        if isinstance(exc, Gone):
            text = exc.message  # which: used, revoked, expired, answered (never more about the request)
        elif isinstance(exc, Throttled):
            self.set_header("Retry-After", str(exc.retry_after))
            hint = "Wait a minute, then open the link you were given again."
        self._notice(status_code, heading, text, hint)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """Domain errors get the status the API gives them (``api/errors.py``, the one mapping)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        super().send_error(status_for(exc, status_code), **kwargs)

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[override]
        if is_expected(value) or isinstance(value, web.HTTPError):
            return
        log.error("%s %s failed", self.request.method, self.logged_path, exc_info=(typ, value, tb))

    # -- the link --------------------------------------------------------------------------------
    async def _open(self) -> tuple[dict[str, Any], dict[str, Any], str]:
        """The link the path's token holds, its request and agent name; an unknown token counts as a guess."""
        wait = self.limiter.retry_after(self.address)
        if wait:
            raise Throttled(wait)
        services = self.context.services
        try:
            credential = auth.LINK_TOKEN.credential(self.request.headers, self.path_kwargs)
            self.principal = await auth.principal_for(services, credential)
            return await services.approval_links.open(self.principal)
        except NotFound:
            self.limiter.failed(self.address)
            raise

    def _cookie_path(self) -> str:
        return url_path_join(self.base_url, "opensink/approve/")

    def _browser_secret(self, *, make: bool) -> str | None:
        value = self.get_cookie(COOKIE)
        if value and _COOKIE_VALUE.match(value):
            return value
        if not make:
            return None
        value = new_token(32)
        self.set_cookie(COOKIE, value, path=self._cookie_path(), httponly=True, samesite="Strict",
                        secure=self.request.protocol == "https")
        return value

    @staticmethod
    def _csrf(link: dict[str, Any], browser_secret: str) -> str:
        return hmac.new(ApprovalLinks.form_key(link), browser_secret.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _spec(request: dict[str, Any]) -> forms.FormField:
        """The request's form, filled with what the agent proposes (its ``defaults``)."""
        return forms.describe(forms.proposed(request["schema"], request.get("defaults")), required=True)

    def _form(self, status: int, link: dict[str, Any], request: dict[str, Any], agent_name: str,
              spec: forms.FormField, *, values: dict[str, str] | None = None,
              errors: list[str] | None = None, problems: dict[str, str] | None = None) -> None:
        secret = self._browser_secret(make=True)
        shown = evidence.show_all(request.get("context"))
        if any(item.has_images for item in shown):
            self.inline_images = True
            self.set_header("Content-Security-Policy", self.content_security_policy)
        decisions = request.get("decisions") or []
        self._page(status, "form.html", request=request, agent_name=agent_name, spec=spec,
                   csrf=self._csrf(link, secret or ""), values=values or {}, posted=values is not None,
                   errors=errors or [], problems=problems or {},
                   evidence=Markup(evidence.as_html(shown)),  # sanitized by evidence.py; titles escaped
                   evidence_style=Markup(evidence.STYLE if shown else ""),
                   buttons=[(action, label) for action, label in BUTTONS if action in decisions],
                   comment_for=[d for d in ("reject", "respond") if d in decisions], comment_max=COMMENT_MAX,
                   link_expires_at=link["expires_at"],
                   zones=forms.UTC_OFFSETS if forms.asks_time(spec) else ())

    @allow_unauthenticated
    async def get(self, **params: str) -> None:
        link, request, agent_name = await self._open()
        self._form(200, link, request, agent_name, self._spec(request))

    @allow_unauthenticated
    async def post(self, **params: str) -> None:
        self._read_body()
        link, request, agent_name = await self._open()
        spec = self._spec(request)
        form = {name: self.get_body_argument(name, strip=False) for name in self.request.body_arguments}
        secret = self._browser_secret(make=False)
        sent = form.get(CSRF_FIELD, "")
        if secret is None or not hmac.compare_digest(sent.encode(), self._csrf(link, secret).encode()):
            self._form(403, link, request, agent_name, spec, values=form, errors=[NOT_VERIFIED])
            return
        decisions = request.get("decisions")
        decision = form.get(ACTION_FIELD) if decisions else None
        if decisions and decision not in decisions:
            self._form(400, link, request, agent_name, spec, values=form, errors=[NOT_OFFERED])
            return
        # Without decisions the page has no comment box, so nothing posted under its name is sent.
        comment = (form.get(COMMENT_FIELD, "").strip() or None) if decisions else None
        if comment is not None and len(comment) > COMMENT_MAX:
            too_long = f"Comment: at most {COMMENT_MAX:,} characters (this one has {len(comment):,})"
            self._form(400, link, request, agent_name, spec, values=form, errors=[too_long],
                       problems={COMMENT_FIELD: too_long})
            return
        if decision == "respond" and comment is None:
            self._form(400, link, request, agent_name, spec, values=form, errors=[NO_REPLY],
                       problems={COMMENT_FIELD: NO_REPLY})
            return
        response = None
        if decision in (None, "approve"):  # a rejection or a reply does not read the form at all
            try:
                # The page runs no script, so it cannot know the person's time zone: it asks (ZONE_FIELD).
                response = forms.read(spec, form, zone=forms.offset_zone(form.get(ZONE_FIELD)))
            except forms.FormErrors as exc:
                self._form(400, link, request, agent_name, spec, values=form,
                           errors=list(exc.problems.values()), problems=exc.problems)
                return
        try:  # the answer is checked against the schema once, where the API checks it too
            resolved = await self.context.services.approval_links.use(
                self.principal, response, form.get(NAME_FIELD), decision=decision, comment=comment)
        except SchemaMismatch as exc:
            said = [f"{v.field}: {v.message}" for v in exc.violations]  # the field as the form labels it
            problems = {}
            for violation, text in zip(exc.violations, said):
                name = forms.where(spec, violation.path)
                if name:
                    problems.setdefault(name, text)
            self._form(400, link, request, agent_name, spec, values=form, errors=said, problems=problems)
            return
        except Invalid as exc:
            self._form(400, link, request, agent_name, spec, values=form, errors=[exc.message])
            return
        except Conflict:
            # ``use`` turns a conflict whose cause it can see (link used or revoked, request answered or
            # expired) into Gone; one left means both still look usable, so the person may simply retry.
            self._form(409, link, request, agent_name, spec, values=form, errors=[CHANGED_MEANWHILE])
            return
        self.clear_cookie(COOKIE, path=self._cookie_path())
        self._page(200, "done.html", request=resolved, name=resolved.get("resolved_by_name"),
                   heading=DONE.get(resolved.get("decision"), DONE[None]))


def approval_handlers(context: ApiContext, link_guesses_per_minute: int) -> list[tuple]:
    """The page's handler spec (without base_url: the extension app prepends it); one client address
    may try ``link_guesses_per_minute`` unknown tokens a minute before it gets 429."""
    limiter = GuessLimiter(link_guesses_per_minute)
    return [(r"/opensink/approve/(?P<token>[^/]+)/?", ApprovalPageHandler,
             {"context": context, "limiter": limiter})]
