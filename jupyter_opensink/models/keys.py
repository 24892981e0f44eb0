from __future__ import annotations

from pydantic import Field

from .common import Model, Name, Time


class ApiKeyCreate(Model):
    name: Name
    scopes: list[str] = Field(default_factory=lambda: ["all:all"], max_length=64)
    workspace_id: str | None = None
    expires_at: Time | None = None
