"""Approval policies and the audit log of decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .agents import Decision
from .common import Model, Name, Query, QueryTime, Resource, Stored, Time, patch_of

PolicyDecision = Literal["approve", "reject"]
Comment = Annotated[str, StringConstraints(max_length=4000)]


class ApprovalPolicyCreate(Model):
    name: Name
    agent_id: str | None = Field(default=None, description="Only this agent's requests; null: any agent's.")
    request_key: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None, description="Only requests whose key matches this glob (*, ?, [abc]); null: any key.")
    when: dict[str, Any] = Field(
        default_factory=dict,
        description="A JSON Schema matched against {defaults, agent_name, key, title} of the request; {} "
                    "matches every request.")
    decision: PolicyDecision = Field(description="What the policy answers; the response is the request's "
                                                 "defaults.")
    comment: Comment | None = Field(default=None, description="Recorded as the decision's comment.")
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000,
                          description="Higher is tried first; among equals, the oldest policy first.")
    enabled: bool = True
    expires_at: Time | None = Field(default=None, description="After this the policy decides nothing.")


ApprovalPolicyUpdate = patch_of(ApprovalPolicyCreate, "ApprovalPolicyUpdate")


class ApprovalPolicy(Stored):
    """A standing answer: the first enabled, unexpired match (by priority) decides a request at its creation."""

    workspace_id: str
    name: str
    agent_id: str | None
    request_key: str | None
    when: dict[str, Any]
    decision: PolicyDecision
    comment: str | None
    priority: int
    enabled: bool
    expires_at: datetime | None
    remembered_from: str | None = Field(
        default=None, description="The request whose \"approve and remember\" made this policy; null otherwise.")


class PolicyFilters(Query):
    agent_id: str | None = Field(None, description="Only this agent's policies.")


AuditFormat = Literal["json", "jsonl", "csv"]


class AuditQuery(Query):
    since: QueryTime | None = Field(None, description="Only decisions made at or after this time.")
    until: QueryTime | None = Field(None, description="Only decisions made before this time.")
    format: AuditFormat = Field("json", description="json ({\"items\": [...]}), jsonl (one record a line) or "
                                                    "csv (a header row; JSON values as JSON text, null as "
                                                    "an empty cell).")
    workspace_id: str | None = Field(None, description="Only this workspace's decisions (the chain spans "
                                                       "every workspace: verify an export of all).")


class AuditRecord(Resource):
    """One decision, sealed: ``hash`` = SHA-256 of ``prev_hash`` followed by the record's canonical JSON."""

    id: str
    seq: int = Field(description="1 for the first record, +1 for each after it.")
    at: datetime = Field(description="When it was decided.")
    workspace_id: str
    request_id: str
    session_id: str
    agent_id: str
    agent_name: str | None
    key: str
    title: str
    status: Literal["resolved", "expired"]
    defaults: dict[str, Any] | None
    response: dict[str, Any] | None
    changes: list[dict[str, Any]] | None
    decision: Decision | None
    comment: str | None
    resolved_by: str | None = Field(description="user:<name>, key:<id>, link:<id>, policy:<id> or system.")
    resolved_by_name: str | None
    prev_hash: str
    hash: str


class AuditVerification(Resource):
    ok: bool = Field(description="Every record's hash holds and none is missing.")
    records: int = Field(description="Records checked.")
    first_bad: str | None = Field(description="The first record that does not hold (or, when the newest are "
                                              "missing, the id the chain says came last).")
