"""Credentials to a ``Principal``, for every surface, and the checks a request passes before any.

Which credentials a route takes is its ``auth`` strategy (``Route.auth``; the approval page's is
``LINK_TOKEN``); the strategy picks the one a request brings from its headers and path, and
``principal_for`` / ``user_principal`` turn it into the caller:

- an API key (``Authorization: Bearer osk_...``): the key's workspace and scopes; the kernels' key
  acts as the Jupyter user;
- the Jupyter user (its token or login cookie, checked by Jupyter's own ``prepare``), in the
  workspace ``X-OpenSink-Workspace`` names (the default one otherwise);
- a sink's ingest secret (``X-OpenSink-Sink-Secret``): a writer of that one sink's items;
- a webhook's secret (``X-OpenSink-Webhook-Secret``, or a Standard-Webhooks signature made with it
  over the body, so checked once the body has arrived): the sender of that one webhook;
- an approval link's token (the last segment of the page's path): who may answer that link's one
  input request, while the link is active.

The service owning the object a secret names checks it (in constant time, or by the hash the store
finds it by) and narrows the principal to that object; the service acting on the object then checks
only that the principal is for it. Every surface shares the checks below, so none repeats them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from tornado import web

from .. import ids
from ..errors import NotFound
from ..services import Services
from ..services.access import Principal
from ..services.secrets import KEY_PREFIX
from ..services.webhooks import SECRET_HEADER as WEBHOOK_SECRET_HEADER
from ..services.webhooks import Signature

WORKSPACE_HEADER = "X-OpenSink-Workspace"
SINK_SECRET_HEADER = "X-OpenSink-Sink-Secret"
FOREIGN_HOST = "the Host header names a host this server does not serve"


# -- what every request is checked for first ----------------------------------------------------
def require_known_host(handler: web.RequestHandler) -> None:
    """403 for a Host header this server does not serve (DNS rebinding); Jupyter's own rule decides."""
    if not handler.check_host():  # type: ignore[attr-defined]
        raise web.HTTPError(403, FOREIGN_HOST)


def refuse_oversized(headers: Mapping[str, str], limit: int) -> None:
    """413 at once for a body whose Content-Length is over ``limit`` (before a byte of it is read).

    This runs before tornado parses the header, so it is read with the same care as any request value:
    a length in more digits than a limit can have is too large; one that is no number is left to
    tornado, which answers it 400.
    """
    length = headers.get("Content-Length") or ""
    too_long = length.isascii() and length.isdigit() and len(length) > 18
    size = ids.parse_digits(length, 18)
    if too_long or (size is not None and size > limit):
        raise web.HTTPError(413, f"the request body is larger than {limit} bytes")


# -- which credential a request brings ----------------------------------------------------------
class Kind(Enum):
    NONE = "none"  # no principal: a public route
    USER = "user"  # the Jupyter user: Jupyter's token or cookie
    KEY = "key"  # an OpenSink API key
    SINK_SECRET = "sink_secret"  # the ingest secret of the sink in the path
    WEBHOOK_SECRET = "webhook_secret"  # the secret of the webhook at the path: shared, or a signature
    LINK_TOKEN = "link_token"  # an approval link's token, the page's path


@dataclass(frozen=True)
class Credential:
    kind: Kind
    value: str = ""
    #: The object in the path a secret is for: a sink's id, a webhook's path.
    target: str = ""
    #: A webhook call's Standard-Webhooks signature headers.
    signature: Signature | None = None

    @property
    def needs_body(self) -> bool:
        """Whether it can be checked only once the body has arrived (a signature is made over it)."""
        return self.kind is Kind.WEBHOOK_SECRET


NO_CREDENTIAL = Credential(Kind.NONE)
JUPYTER_USER = Credential(Kind.USER)


def api_key_from(authorization: str | None) -> str | None:
    """The workspace key in ``Authorization: Bearer osk_...`` (or ``token osk_...``), else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() in ("bearer", "token") and value.startswith(KEY_PREFIX):
        return value
    return None


class Auth:
    """The usual strategy: an API key, else the Jupyter user."""

    #: The OpenAPI security scheme of the credential this strategy takes besides those two.
    scheme: str | None = None

    def credential(self, headers: Mapping[str, str], params: Mapping[str, str]) -> Credential:
        """The credential a request brings in ``headers`` (and ``params``, its path's parameters)."""
        key = api_key_from(headers.get("Authorization"))
        return Credential(Kind.KEY, key) if key is not None else JUPYTER_USER

    def __repr__(self) -> str:
        return type(self).__name__


class SinkSecretAuth(Auth):
    """Also a sink's ingest secret, for the sink in the path, when no Authorization is sent."""

    scheme = "sinkSecret"

    def credential(self, headers: Mapping[str, str], params: Mapping[str, str]) -> Credential:
        secret = headers.get(SINK_SECRET_HEADER)
        if secret and "Authorization" not in headers:
            return Credential(Kind.SINK_SECRET, secret, target=params.get("sink_id", ""))
        return super().credential(headers, params)


class WebhookSecretAuth(Auth):
    """Without an Authorization header, the secret of the webhook at the path: sent as it is, or a
    signature made with it (either, both or neither: the webhook's service says whether one holds)."""

    scheme = "webhookSecret"

    def credential(self, headers: Mapping[str, str], params: Mapping[str, str]) -> Credential:
        if "Authorization" in headers:
            return super().credential(headers, params)
        signature = Signature(headers.get("webhook-id"), headers.get("webhook-timestamp"),
                              headers.get("webhook-signature"))
        return Credential(Kind.WEBHOOK_SECRET, headers.get(WEBHOOK_SECRET_HEADER) or "",
                          target=params.get("path", ""), signature=signature)


class LinkTokenAuth(Auth):
    """An approval link's token, the ``token`` in the path: the approval page takes nothing else."""

    def credential(self, headers: Mapping[str, str], params: Mapping[str, str]) -> Credential:
        return Credential(Kind.LINK_TOKEN, params.get("token", ""))


class PublicAuth(Auth):
    """No credential at all (the Host check still applies)."""

    def credential(self, headers: Mapping[str, str], params: Mapping[str, str]) -> Credential:
        return NO_CREDENTIAL


KEY_OR_USER, SINK_SECRET, WEBHOOK_SECRET, LINK_TOKEN, NONE = (
    Auth(), SinkSecretAuth(), WebhookSecretAuth(), LinkTokenAuth(), PublicAuth())


# -- who the credential is ----------------------------------------------------------------------
async def user_principal(services: Services, user_name: str | None, asked_workspace: str | None,
                         display_name: str | None = None) -> Principal:
    """The Jupyter user, in the workspace ``asked_workspace`` names (the default workspace otherwise)."""
    workspaces = services.workspaces
    if asked_workspace:
        if not await workspaces.exists(asked_workspace):
            raise NotFound(f"workspace {asked_workspace} not found")
        workspace_id = asked_workspace
    else:
        workspace_id = await workspaces.default_id()
    return Principal(workspace_id=workspace_id, is_user=True, user_name=user_name, display_name=display_name)


async def principal_for(services: Services, credential: Credential, *, asked_workspace: str | None = None,
                        body: bytes = b"") -> Principal:
    """The caller an API key or a secret stands for (``Unauthorized`` when it is not valid; an unknown
    link token is ``NotFound``, a spent one ``Gone``, as the link's service says). ``body`` is the
    request's, for a credential that ``needs_body``."""
    if credential.kind is Kind.WEBHOOK_SECRET:  # names its webhook, so its workspace: no header is read
        return await services.webhooks.principal_for_secret(credential.target, credential.value,
                                                            credential.signature, body)
    if credential.kind is Kind.LINK_TOKEN:  # names its link, so its workspace
        return await services.approval_links.principal_for_token(credential.value)
    if credential.kind is Kind.KEY:
        principal = await services.api_keys.authenticate(credential.value)
    elif credential.kind is Kind.SINK_SECRET:
        principal = await services.sinks.principal_for_secret(credential.target, credential.value)
    else:
        raise ValueError(f"{credential.kind} is not a key or a secret")
    if principal.is_user:  # the kernels' key acts as the Jupyter user (what it opens ends with it)
        user = await user_principal(services, principal.user_name, asked_workspace)
        return dataclasses.replace(user, key_id=principal.key_id, expires_at=principal.expires_at,
                                   display_name=principal.display_name)
    if asked_workspace and asked_workspace != principal.workspace_id:
        raise NotFound(f"workspace {asked_workspace} not found")
    return principal
