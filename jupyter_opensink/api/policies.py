"""/v1/approval-policies and /v1/audit-log: the Jupyter user's standing answers, and the record of every decision.

Every route here is the Jupyter user's alone: an API key is refused (403) whatever its scopes, so an agent can
neither approve itself through a policy nor read or rewrite the log of what it was allowed.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

from ..models.common import shaper
from ..models.policies import (ApprovalPolicy, ApprovalPolicyCreate, ApprovalPolicyUpdate, AuditQuery,
                               AuditRecord, AuditVerification, PolicyFilters)
from ..services.audit import RECORD_FIELDS
from .call import Call
from .crud import create, listing, one, patch
from .routing import ADMIN, Json, Page, Route, Stream

POLICIES, AUDIT = "approval-policies", "audit-log"
CSV_COLUMNS = (*RECORD_FIELDS, "hash")
#: Columns holding JSON values in a CSV export (written as JSON text); the others hold text or a number.
CSV_JSON_COLUMNS = ("defaults", "response", "changes")
MEDIA = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
#: Records written to the client before waiting for it to take them.
FLUSH_EVERY = 200


def csv_cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column in CSV_JSON_COLUMNS:
        return orjson.dumps(value).decode()
    return str(value)


def _csv_line(values: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue().encode()


async def export_audit_log(call: Call) -> None:
    """Written as it is read, a page at a time: an export of millions of records holds a page in memory."""
    query = call.query(AuditQuery)
    handler = call.handler
    handler.set_header("Content-Type", MEDIA[query.format])
    if query.format != "json":
        handler.set_header("Content-Disposition", f'attachment; filename="audit-log.{query.format}"')
    shape = shaper(AuditRecord)
    written = 0
    if query.format == "json":
        handler.write(b'{"items":[')
    elif query.format == "csv":
        handler.write(_csv_line(list(CSV_COLUMNS)))
    await handler.flush()  # the headers go now: Jupyter's API handler would make the type JSON at the finish
    async for record in call.services.audit_log.records(since=query.since, until=query.until,
                                                        workspace_id=query.workspace_id):
        if query.format == "csv":
            handler.write(_csv_line([csv_cell(c, record.get(c)) for c in CSV_COLUMNS]))
        elif query.format == "jsonl":
            handler.write(orjson.dumps(shape(record)) + b"\n")
        else:
            handler.write((b"," if written else b"") + orjson.dumps(shape(record)))
        written += 1
        if written % FLUSH_EVERY == 0:
            await handler.flush()
    if query.format == "json":
        handler.write(b'],"trail":null}')
    handler.finish()


async def verify_audit_log(call: Call) -> dict:
    return await call.services.audit_log.verify()


ROUTES = [
    Route("POST", "/approval-policies", create(lambda s: s.approval_policies.create, ApprovalPolicyCreate), ADMIN,
          "Create an approval policy: requests it matches are decided at once (the Jupyter user only).",
          Json(ApprovalPolicy, 201), body=ApprovalPolicyCreate, tag=POLICIES),
    Route("GET", "/approval-policies", listing(lambda s: s.approval_policies.list), ADMIN,
          "List the workspace's approval policies (filter: agent_id).", Page(ApprovalPolicy), tag=POLICIES,
          query=PolicyFilters),
    Route("GET", "/approval-policies/{id}", one(lambda s: s.approval_policies.get), ADMIN,
          "Get an approval policy.", Json(ApprovalPolicy), tag=POLICIES),
    Route("PATCH", "/approval-policies/{id}", patch(lambda s: s.approval_policies.update, ApprovalPolicyUpdate),
          ADMIN, "Change an approval policy (enable, disable, extend, narrow...).", Json(ApprovalPolicy),
          body=ApprovalPolicyUpdate, tag=POLICIES),
    Route("DELETE", "/approval-policies/{id}", one(lambda s: s.approval_policies.delete), ADMIN,
          "Delete an approval policy (decisions it made stay in the audit log).", Json(ApprovalPolicy),
          tag=POLICIES),
    Route("GET", "/audit-log", export_audit_log, ADMIN,
          "Every decision, oldest first, hash-chained: as JSON, JSON Lines or CSV, streamed (since/until "
          "choose a time range).", Stream(media=tuple(MEDIA.values())), tag=AUDIT, query=AuditQuery),
    Route("GET", "/audit-log/verify", verify_audit_log, ADMIN,
          "Recompute the audit log's hash chain: ok, how many records, the first that does not hold.",
          Json(AuditVerification), tag=AUDIT),
]
