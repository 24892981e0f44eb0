"""Approval links: a capability URL that lets someone without Jupyter access answer one input request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from .common import Model, Stored

#: Seconds a link lives when the caller does not say (24 h), and the most it may (7 days).
DEFAULT_EXPIRES_IN = 24 * 3600
MAX_EXPIRES_IN = 7 * 24 * 3600
MIN_EXPIRES_IN = 60

LinkStatus = Literal["active", "used", "revoked", "expired"]


class LinkCreate(Model):
    expires_in: int = Field(default=DEFAULT_EXPIRES_IN, ge=MIN_EXPIRES_IN, le=MAX_EXPIRES_IN,
                            description="Seconds the link stays usable (60 to 604800; default 86400). It never "
                                        "outlives the request's own expires_at.")
    note: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, description="For the link's creator (who it was sent to); not shown on the page.")


class ApprovalLink(Stored):
    """A link as listed: never its token."""

    request_id: str
    workspace_id: str
    note: str | None
    expires_at: datetime
    status: LinkStatus = Field(description="active until it is used, revoked or past expires_at.")
    used_at: datetime | None = Field(description="When the request was answered through it.")
    used_by_name: str | None = Field(description="The name the person typed on the page, if any.")
    revoked_at: datetime | None


class NewApprovalLink(ApprovalLink):
    url: str = Field(description="The page's absolute URL, token included: shown in this reply only.")
