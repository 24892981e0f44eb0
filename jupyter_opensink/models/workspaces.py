from __future__ import annotations

from .common import Model, Name


class WorkspaceCreate(Model):
    name: Name


class WorkspaceUpdate(Model):
    # PATCH: every field may be left out, none may be null (the default is never validated).
    name: Name = None  # type: ignore[assignment]
