from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .common import Model, Name, Query, Stored, Time


class ApiKeyCreate(Model):
    name: Name
    scopes: list[str] = Field(default_factory=lambda: ["all:all"], max_length=64)
    workspace_id: str | None = None
    expires_at: Time | None = None


class ApiKey(Stored):
    """A key as listed: never its secret."""

    workspace_id: str
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    scopes: list[str]
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Refreshed at most once a minute.")
    managed: Literal["kernel"] | None = Field(description="\"kernel\" for the key the server gives its kernels "
                                                          "(replaced at each start).")


class NewApiKey(ApiKey):
    key: str = Field(description="The secret (osk_...): shown in this reply only.")


class KeyFilters(Query):
    workspace_id: str | None = Field(None, description="Only this workspace's keys.")
