from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .common import Model, Name, Text, Time, Url

Color = Literal["neutral", "blue", "green", "yellow", "orange", "red", "purple", "pink"]
Slug = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


class SinkCreate(Model):
    name: Name
    description: Text | None = None
    color: Color = "neutral"
    is_public: bool = False
    public_slug: Slug | None = None


class SinkUpdate(Model):
    # PATCH: every field may be left out; only description and public_slug may be null.
    name: Name = None  # type: ignore[assignment]
    description: Text | None = None
    color: Color = None  # type: ignore[assignment]
    is_public: bool = None  # type: ignore[assignment]
    public_slug: Slug | None = None


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


class ItemUpdate(Model):
    sink_id: str = None  # type: ignore[assignment]  # accepted only when unchanged
    title: Name = None  # type: ignore[assignment]
    body: Text | None = None
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    url: Url | None = None
    fields: dict[str, Any] = None  # type: ignore[assignment]
    resources: list[Link] = Field(default=None, max_length=100)  # type: ignore[assignment]
    occurred_at: Time = None  # type: ignore[assignment]


MAX_MANY = 1000


class ItemsMany(Model):
    items: list[Any] = Field(min_length=1, max_length=MAX_MANY)
