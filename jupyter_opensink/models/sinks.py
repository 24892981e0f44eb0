from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, RootModel, StringConstraints

from .common import Model, Name, Query, QueryTime, Resource, Stored, Text, Time, Url, WriteSecret, patch_of

Color = Literal["neutral", "blue", "green", "yellow", "orange", "red", "purple", "pink"]
Slug = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


class SinkCreate(Model):
    name: Name
    description: Text | None = None
    color: Color = "neutral"
    is_public: bool = False
    public_slug: Slug | None = None


SinkUpdate = patch_of(SinkCreate, "SinkUpdate")


class Link(Model):
    type: Literal["link"]
    label: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    url: Url


class ItemFields(Model):
    """What an item may carry, whichever way it is created."""

    title: Name
    body: Text | None = None
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    url: Url | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    resources: list[Link] = Field(default_factory=list, max_length=100)
    occurred_at: Time | None = None


class ItemCreate(ItemFields):
    sink_id: str


# sink_id is accepted only when unchanged (the service says so otherwise).
ItemUpdate = patch_of(ItemFields, "ItemUpdate", sink_id=(str, None))


MAX_MANY = 1000
#: The items of one batch: each is checked on its own by the service, so one bad item is reported, not a 400.
ItemBatch = Annotated[list[Any], Field(min_length=1, max_length=MAX_MANY)]


class ItemsMany(Model):
    items: ItemBatch


class ItemsBulk(RootModel[ItemBatch]):
    """The items of ``POST /sink-items/many`` as a plain JSON array: the body of its alias ``/sink-items/bulk``."""

    model_config = ConfigDict(strict=True)


# -- replies --------------------------------------------------------------------
class PublicSinkInfo(Stored):
    """What a public sink page shows of its sink."""

    name: str
    description: str | None
    color: Color
    public_slug: str | None


class Sink(PublicSinkInfo):
    """A sink: where agents write items for people to read."""

    workspace_id: str
    is_public: bool
    owner_id: str | None = Field(
        description="Who created the sink: the Jupyter user's name, or the id of the API key used. Set once, "
                    "never changed (PATCH does not take it); null for a sink stored before sinks recorded it.")
    secret: Annotated[str | None, WriteSecret("sinks")] = Field(
        description="Ingest secret: send it as X-OpenSink-Sink-Secret to create items in this sink without "
                    "an API key. Shown only to callers holding sinks:write (the Jupyter user, a key with "
                    "that scope); null for read-only keys, since it grants writing.")


class PublicItem(Stored):
    """An item as a public sink page shows it (everything but its workspace)."""

    sink_id: str
    title: str
    body: str | None
    type: str | None
    url: str | None
    fields: dict[str, Any]
    resources: list[Link]
    occurred_at: datetime


class SinkItem(PublicItem):
    """One item of a sink."""

    workspace_id: str


class PublicSink(Resource):
    """A public sink and its newest items; nothing private."""

    sink: PublicSinkInfo
    items: list[PublicItem]


class FailedItem(Resource):
    item: Any
    error: str


class InvalidItem(Resource):
    item: Any
    errors: list[str]


class ManyItems(Resource):
    """The reply of /sink-items/many: all items created, or none (then ``invalid`` or ``failed`` say why)."""

    created: list[SinkItem]
    failed: list[FailedItem]
    invalid: list[InvalidItem]


class ItemFilters(Query):
    sink_id: str | None = Field(None, description="Only this sink's items.")
    type: str | None = Field(None, description="Only items of this type.")
    q: str | None = Field(None, description="Text found in the title, body or field values "
                                            "(case-insensitive).")
    occurred_after: QueryTime | None = Field(None, description="Only items that occurred after this time.")
    occurred_before: QueryTime | None = Field(None, description="Only items that occurred before this time.")
