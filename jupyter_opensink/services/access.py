"""Who is calling and what they may do: principals and key scopes.

Scope grammar: ``<resource>:<read|write|all>``, with ``all`` as a resource
wildcard (``all:all`` grants everything, ``all:read`` every read).
"""

from __future__ import annotations

import functools
import getpass
import re
from dataclasses import dataclass, field

from ..errors import Forbidden, Invalid

RESOURCES = (
    "sinks", "sink_items", "agents", "agent_configurations", "agent_sessions",
    "agent_session_input_requests", "agent_session_activities", "background_jobs",
    "states", "webhooks",
)
ACCESS = ("read", "write", "all")
#: Write secrets withheld from a caller that is no principal (a public route): all.
EVERY_RESOURCE = frozenset(RESOURCES)


def validate_scopes(scopes: list[str]) -> list[str]:
    """Check each scope against the grammar; returns them de-duplicated, in order."""
    if not scopes:
        raise Invalid("scopes: give at least one scope, e.g. \"all:all\"")
    for scope in scopes:
        resource, _, access = scope.partition(":")
        if resource not in RESOURCES + ("all",) or access not in ACCESS:
            raise Invalid(
                f"scopes: {scope!r} is not <resource>:<read|write|all> with resource one of "
                f"{', '.join(RESOURCES)} or all"
            )
    return list(dict.fromkeys(scopes))


def grants(scopes: list[str], resource: str, access: str) -> bool:
    for scope in scopes:
        have_resource, _, have_access = scope.partition(":")
        if have_resource in (resource, "all") and have_access in (access, "all"):
            return True
    return False


#: The username Jupyter's identity provider makes up for a token-authenticated request (a fresh uuid hex).
_GENERATED_USERNAME = re.compile(r"[0-9a-f]{32}")


@functools.cache
def account_name() -> str | None:
    """The operating-system account the server runs as: in a single-user Jupyter, the person."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 (no name in the environment or the password database)
        return None


def person_name(username: str | None, name: str | None) -> str | None:
    """What to call the Jupyter user: the name the identity provider gives, unless it is one it made up
    for an anonymous token login ("Anonymous Io" with a random username): then the account's name."""
    if username and _GENERATED_USERNAME.fullmatch(username):
        return account_name() or name
    return name or username


@dataclass(frozen=True)
class Principal:
    """The caller: the Jupyter user (admin of every workspace), a workspace API key, or the holder of
    a secret that names one object (a sink's, a webhook's, an approval link's) and may act on it alone."""

    workspace_id: str
    is_user: bool
    scopes: tuple[str, ...] = field(default=())
    key_id: str | None = None
    user_name: str | None = None
    sink_id: str | None = None  # set for a sink's ingest secret: it may write that sink's items only
    webhook_id: str | None = None  # set for a webhook's secret: it may invoke that webhook only
    #: For a call signed with a webhook's secret: its ``(webhook-id, timestamp)``, which is accepted once.
    signed_call: tuple[str, int] | None = None
    #: Set for an approval link's token: it may answer that link's input request (``request_id``) only.
    link_id: str | None = None
    request_id: str | None = None
    #: When the key expires (Unix time): what the key holds open (streams, MCP sessions) ends then.
    expires_at: float | None = None
    #: Who this is as a person reads it (the Jupyter user's name, the key's name): what an answered
    #: request records as ``resolved_by_name``.
    display_name: str | None = None

    @property
    def label(self) -> str:
        """Who this is, as recorded on what it changes (an answered request's ``resolved_by``)."""
        if self.is_user:
            return f"user:{self.user_name or 'jupyter'}"
        if self.key_id:
            return f"key:{self.key_id}"
        if self.webhook_id:
            return f"webhook:{self.webhook_id}"
        return f"link:{self.link_id}" if self.link_id else f"sink:{self.sink_id}"

    @property
    def owner_id(self) -> str | None:
        """Who this is, as what it creates records its owner: the Jupyter user's name, or the key's id.

        The user's name is the identity provider's username, unless that is one made up for an anonymous
        token login (a fresh one per browser) or the caller is the kernels' key: both stand for the person
        the server runs as, named by the account's name.
        """
        if not self.is_user:
            return self.key_id
        if self.key_id is None and self.user_name and not _GENERATED_USERNAME.fullmatch(self.user_name):
            return self.user_name
        return account_name() or self.user_name

    @property
    def readable(self) -> str:
        """A name for a person to read; never a hash (the label's kind when nothing better is known)."""
        if self.display_name:
            return self.display_name
        if self.is_user:
            return "the Jupyter user"
        return "an API key" if self.key_id else self.label.partition(":")[0]

    def has(self, scope: str) -> bool:
        """Whether this principal holds ``resource:access`` (the Jupyter user holds every scope)."""
        resource, _, access = scope.partition(":")
        return self.is_user or grants(list(self.scopes), resource, access)

    def require(self, scope: str) -> None:
        """Raise ``Forbidden`` unless this principal holds ``resource:access``."""
        if not self.has(scope):
            raise Forbidden(f"this API key lacks the scope {scope}")

    @functools.cached_property  # a key's principal serves every request its remembered check answers
    def withheld(self) -> frozenset[str]:
        """The resources whose write-granting secrets this caller may not see (it may not write them)."""
        return frozenset(r for r in RESOURCES if not self.has(f"{r}:write"))

    def require_user(self, what: str) -> None:
        if not self.is_user:
            raise Forbidden(f"only the Jupyter user can {what}; API keys cannot")
