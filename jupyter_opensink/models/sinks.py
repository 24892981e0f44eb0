from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .common import Model, Name, Text, Time, Url, patch_of

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


class ItemsMany(Model):
    items: list[Any] = Field(min_length=1, max_length=MAX_MANY)
