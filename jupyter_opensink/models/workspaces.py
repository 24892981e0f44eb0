from __future__ import annotations

from .common import Model, Name, patch_of


class WorkspaceCreate(Model):
    name: Name


WorkspaceUpdate = patch_of(WorkspaceCreate, "WorkspaceUpdate")
