"""``$limit`` / ``$trail`` / ``$order`` keyset paging over the store's id order.

Paging's parameters are a query model, :class:`PageQuery`: a listing's route adds it to the filters it
declares (:func:`paged_query`), so that one declaration gives the parsing, the 400 messages and the
OpenAPI parameters of every listing. A trail is opaque to callers: base64url of the order and the last
id seen.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

import orjson
from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from .. import ids
from ..models.common import Query, refusal
from ..store import Page

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
LIMIT_REFUSED = f"$limit must be an integer from 1 to {MAX_LIMIT}"
ORDER_REFUSED = "$order must be asc or desc"
TRAIL_MALFORMED = "$trail is malformed: pass back the trail of the previous page unchanged"
TRAIL_OF_THE_OTHER_ORDER = "$trail belongs to a listing in the other $order"


def _limit(value: Any) -> Any:
    """ASCII digits only (``ids.parse_digits``): no sign, space, underscore or other script's digit."""
    limit = ids.parse_digits(value, len(str(MAX_LIMIT))) if isinstance(value, str) else None
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise refusal(LIMIT_REFUSED)
    return limit


def _order(value: Any) -> Any:
    """``$order=`` (empty) is the default order, as when it is not sent."""
    if value == "":
        return "desc"
    if value not in ("asc", "desc"):
        raise refusal(ORDER_REFUSED)
    return value


class PageQuery(Query):
    """Paging's query parameters. They are not filters (``exclude``): a listing's service takes them as
    ``limit=``, ``after=`` and ``order=``."""

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT), BeforeValidator(_limit)] = Field(
        DEFAULT_LIMIT, alias="$limit", exclude=True,
        description=f"Objects per page, 1 to {MAX_LIMIT} (400 beyond).")
    order: Annotated[Literal["desc", "asc"], BeforeValidator(_order)] = Field(
        "desc", alias="$order", exclude=True, description="desc (newest first, the default) or asc.")
    #: The last id of the previous page, read from its trail (declared after ``order``, which it is checked
    #: against).
    after: str | None = Field(None, alias="$trail", exclude=True,
                              description="The trail of the previous page, passed back unchanged.")

    @field_validator("after", mode="before")
    @classmethod
    def _read_trail(cls, value: Any, info: ValidationInfo) -> Any:
        if not value:  # ``$trail=`` (empty): the first page
            return None
        if "order" not in info.data:  # $order is refused: that is the message
            return None
        return _decode_trail(value, info.data["order"])


@functools.cache
def paged_query(filters: type[Query] | None) -> type[PageQuery]:
    """A listing's query model: the filters its route declares (if any), then paging's parameters."""
    if filters is None or issubclass(filters, PageQuery):
        return filters or PageQuery
    return type(f"Paged{filters.__name__}", (PageQuery, filters),
                {"__doc__": filters.__doc__, "__module__": filters.__module__})


def encode_trail(after: str, order: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([order, after])).decode().rstrip("=")


def _decode_trail(trail: str, order: str) -> str:
    try:
        padded = trail + "=" * (-len(trail) % 4)
        trail_order, after = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise refusal(TRAIL_MALFORMED) from None
    if not isinstance(after, str) or trail_order not in ("asc", "desc"):
        raise refusal(TRAIL_MALFORMED)
    if trail_order != order:
        raise refusal(TRAIL_OF_THE_OTHER_ORDER)
    return after


def render_page(page: Page, order: str, render: Callable[[dict], Mapping[str, Any]] | None = None) -> dict:
    items = [render(d) for d in page.items] if render else page.items
    trail = encode_trail(page.next_after, order) if page.next_after else None
    return {"items": items, "trail": trail}
