"""``$limit`` / ``$trail`` / ``$order`` keyset paging over the store's id order.

A trail is opaque to callers: base64url of the order and the last id seen.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .. import ids
from ..errors import Invalid
from ..store import Page

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class Paging:
    limit: int
    after: str | None
    order: str


def parse_paging(arg: Callable[[str], str | None]) -> Paging:
    raw_limit = arg("$limit")
    if raw_limit is None:
        limit = DEFAULT_LIMIT
    else:
        limit = ids.parse_digits(raw_limit, len(str(MAX_LIMIT))) or 0
        if not 1 <= limit <= MAX_LIMIT:
            raise Invalid(f"$limit must be an integer from 1 to {MAX_LIMIT}")
    order = arg("$order") or "desc"
    if order not in ("asc", "desc"):
        raise Invalid("$order must be asc or desc")
    trail = arg("$trail")
    after = decode_trail(trail, order) if trail else None
    return Paging(limit, after, order)


def encode_trail(after: str, order: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([order, after])).decode().rstrip("=")


def decode_trail(trail: str, order: str) -> str:
    try:
        padded = trail + "=" * (-len(trail) % 4)
        trail_order, after = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise Invalid("$trail is malformed: pass back the trail of the previous page unchanged") from None
    if not isinstance(after, str) or trail_order not in ("asc", "desc"):
        raise Invalid("$trail is malformed: pass back the trail of the previous page unchanged")
    if trail_order != order:
        raise Invalid("$trail belongs to a listing in the other $order")
    return after


def render_page(page: Page, order: str, render: Callable[[dict], Mapping[str, Any]] | None = None) -> dict:
    items = [render(d) for d in page.items] if render else page.items
    trail = encode_trail(page.next_after, order) if page.next_after else None
    return {"items": items, "trail": trail}
