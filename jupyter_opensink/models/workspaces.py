from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import Model, Name, Stored, patch_of

CallbackSecret = Literal["agent", "workspace"]


class WorkspaceCreate(Model):
    name: Name
    callback_secret: CallbackSecret = Field(
        "agent", description="Which secret callbacks to this workspace's agents carry and are signed with: "
                             "\"agent\", each agent's own (shown once on create and rotate); \"workspace\", the "
                             "workspace's execution_secret, as the hosted API does (any agent's endpoint then "
                             "learns the secret that authenticates callbacks to all of them).")


WorkspaceUpdate = patch_of(WorkspaceCreate, "WorkspaceUpdate")


class Workspace(Stored):
    """A workspace: the tenant every other object belongs to."""

    name: str
    execution_secret: str = Field(description="Signs the calls to execution endpoints when callback_secret is "
                                               "\"workspace\" (Standard Webhooks).")
    callback_secret: CallbackSecret
    is_default: bool
