"""What a person may answer to an input request, and what their answer records.

A request may carry what the agent proposes (``defaults``), evidence to show beside the question
(``context``) and the answers allowed (``decisions``). A request without ``decisions`` is answered the
hosted API's way: the form, one submit, ``decision`` null; so an agent reading ``response`` never finds it
missing. The answer records the edits as a JSON Patch from the proposal, so the agent sees exactly what
the person changed.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import jsonpatch
import orjson

from ..errors import Invalid
from ..models.agents import CONTEXT_TYPES, MAX_CONTEXT_BYTES
from .schemas import require_valid

_IMAGES = ("image/png", "image/jpeg")
_TEXTS = ("text/plain", "text/markdown", "text/html", "image/svg+xml")


def check_proposal(values: dict[str, Any]) -> None:
    """400 unless ``defaults`` match the schema, ``context`` holds known types within size, and
    ``decisions`` names each answer once; ``values["context"]`` is put in its stored shape."""
    if values.get("defaults") is not None:
        require_valid(values["schema"], values["defaults"], field="defaults")
    context = values.get("context")
    if context:
        for index, item in enumerate(context):
            _check_display(index, item["data"])
        size = len(orjson.dumps(context))
        if size > MAX_CONTEXT_BYTES:
            raise Invalid(f"context: is {size} bytes; at most {MAX_CONTEXT_BYTES // (1024 * 1024)} MiB in all")
        # One stored shape whichever surface asked: an item without a title has no "title" key.
        values["context"] = [{k: v for k, v in item.items() if v is not None} for item in context]
    decisions = values.get("decisions")
    if decisions is not None and len(set(decisions)) != len(decisions):
        raise Invalid("decisions: name each of approve, reject, respond at most once")


def _check_display(index: int, data: dict[str, Any]) -> None:
    where = f"context[{index}].data"
    if not data:
        raise Invalid(f"{where}: give at least one type, e.g. {{\"text/plain\": \"...\"}}")
    unknown = sorted(set(data) - set(CONTEXT_TYPES))
    if unknown:
        raise Invalid(f"{where}: {', '.join(unknown)} cannot be shown; use {', '.join(CONTEXT_TYPES)}")
    for mime, value in data.items():
        if mime in _TEXTS and not isinstance(value, str):
            raise Invalid(f"{where}[{mime}]: must be text")
        if mime in _IMAGES:
            if not isinstance(value, str):
                raise Invalid(f"{where}[{mime}]: must be base64 text")
            try:
                base64.b64decode(value.replace("\n", ""), validate=True)
            except (binascii.Error, ValueError):
                raise Invalid(f"{where}[{mime}]: is not valid base64") from None
        if mime.endswith("json") and not isinstance(value, (dict, list)):
            raise Invalid(f"{where}[{mime}]: must be a JSON object or array")


def settle(request: dict[str, Any], response: dict[str, Any] | None, decision: str | None,
           comment: str | None) -> dict[str, Any]:
    """The fields an answer writes (``response``, ``decision``, ``comment``, ``changes``), or 400 for an
    answer the request does not allow."""
    allowed = request.get("decisions")
    if decision is None:
        if allowed:
            raise Invalid(f"decision: this request asks for a decision: one of {', '.join(allowed)}")
        if response is None:
            raise Invalid("response: required")
    elif not allowed:
        raise Invalid("decision: this request takes a plain answer (its response), not a decision")
    elif decision not in allowed:
        raise Invalid(f"decision: {decision} is not offered here; one of {', '.join(allowed)}")
    comment = comment if comment and comment.strip() else None
    if decision == "respond":
        if comment is None:
            raise Invalid("comment: a reply needs words: say what the agent should do instead")
        response = None
    elif decision == "approve" and response is None:
        raise Invalid("response: required to approve (send the defaults to approve as proposed)")
    if response is not None:
        require_valid(request["schema"], response, field="response")
    return {"response": response, "decision": decision, "comment": comment,
            "changes": changes(request.get("defaults"), response)}


def changes(defaults: dict[str, Any] | None, response: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """RFC 6902 operations turning the proposal into the answer (``[]``: approved as proposed)."""
    if defaults is None or response is None:
        return None
    return jsonpatch.make_patch(defaults, response).patch


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """The answer as the agent receives it (callback body, event, activity)."""
    return {key: request.get(key) for key in ("decision", "comment", "response", "changes", "resolved_by_name")}
