from __future__ import annotations

from pydantic import Field

from .common import Model, Name, Stored, patch_of


class WorkspaceCreate(Model):
    name: Name


WorkspaceUpdate = patch_of(WorkspaceCreate, "WorkspaceUpdate")


class Workspace(Stored):
    """A workspace: the tenant every other object belongs to."""

    name: str
    execution_secret: str = Field(description="Signs the calls to execution endpoints (Standard Webhooks).")
    is_default: bool
