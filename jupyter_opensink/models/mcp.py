"""Arguments and results of the MCP tools that are not already HTTP bodies and replies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from .agents import MAX_CONTEXT_ITEMS, ContextItem, Decision, RequestStatus, SessionUpdate
from .common import Model, Name, Resource, Text, Time


class AskHuman(Model):
    title: Name = Field(description="What the human is asked, in a few words.")
    message: Text = Field(description="The question in full: what you want to do and why.")
    schema_: dict[str, Any] | None = Field(
        None, alias="schema",
        description="JSON Schema (an object schema) of the answer; the form the human fills is built from it. "
                    "Default: {approved: boolean (required), comment: string}.")
    key: Name = Field("ask_human", description="Your own name for this question (several may be asked).")
    session_id: str | None = Field(None, description="Ask within this session; a new one is started when omitted.")
    agent_id: str | None = Field(None, description="The agent a new session belongs to.")
    agent_name: Name | None = Field(
        None, description="Without agent_id: the agent of that name (made when missing). Default: the MCP "
                          "client's name.")
    timeout_seconds: float = Field(60.0, ge=0, description="Seconds to wait for the answer before returning a "
                                                           "pending handle (0: return at once).")
    expires_at: Time | None = Field(None, description="After this the request expires unanswered.")
    defaults: dict[str, Any] | None = Field(
        None, description="What you propose (matching the schema): the form opens filled with it, so the human can "
                          "approve it as is or edit it; the answer's changes say what they edited.")
    context: list[ContextItem] | None = Field(
        None, max_length=MAX_CONTEXT_ITEMS,
        description="Evidence shown beside the question: items {title?, data: {mime type: value}} (text/plain, "
                    "text/markdown, text/html, image/png base64, application/json, ...).")
    decisions: list[Decision] | None = Field(
        None, min_length=1, max_length=3,
        description="The answers the human may give: approve, reject (with a reason in comment), respond (words "
                    "instead of a decision). Without it, the human fills the form and submits.")


class GetInputRequest(Model):
    request_id: str
    timeout_seconds: float = Field(0.0, ge=0, description="Seconds to wait for the answer while it is pending "
                                                          "(0: return at once).")


class SearchItems(Model):
    sink_id: str | None = None
    q: str | None = Field(None, max_length=255,
                          description="Case-insensitive search over title, body and field values.")
    type: str | None = Field(None, max_length=64)
    occurred_after: Time | None = None
    occurred_before: Time | None = None
    limit: int = Field(20, ge=1, le=500)
    trail: str | None = Field(None, description="The trail of the previous page, for the next one.")


class UpdateSession(SessionUpdate):  # type: ignore[misc, valid-type]
    session_id: str


class StateName(Model):
    namespace: Name
    key: Name


class SetState(StateName):
    value: Any = Field(description="Any JSON value.")
    expires_at: Time | None = None
    if_match: int | None = Field(None, ge=1, description="Write only over this version (else an error).")
    only_new: bool = Field(False, description="Write only if the state does not exist yet.")


class HumanAnswer(Resource):
    """Where a question to a human stands: answered, still pending, or expired."""

    status: RequestStatus
    request_id: str
    session_id: str
    agent_id: str
    title: str
    response: dict[str, Any] | None = Field(description="The human's answer; null until resolved.")
    resolved_at: datetime | None
    resolved_by: str | None = Field(description="Who answered: user:<name>, key:<id> or link:<id>.")
    resolved_by_name: str | None = Field(description="Who answered, as a person reads it.")
    decision: Decision | None = Field(None, description="approve, reject or respond; null for a plain answer.")
    comment: str | None = Field(None, description="The human's reason or reply, if any.")
    changes: list[dict[str, Any]] | None = Field(
        None, description="JSON Patch from your defaults to the response ([]: approved as proposed).")
    expires_at: datetime | None
    next: Literal["done", "poll", "ask_again"] = Field(
        description="done: use response; poll: call get_input_request with request_id later; "
                    "ask_again: the request expired unanswered.")
