"""Field types and the base model shared by every resource."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from ..ids import to_iso


class Model(BaseModel):
    """Unknown fields are errors and no type is coerced ("1" is not 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    def changes(self) -> dict[str, Any]:
        """Only the fields the caller sent (PATCH semantics), times rendered as API strings."""
        return {k: _render(v) for k, v in self.model_dump(exclude_unset=True).items()}

    def values(self) -> dict[str, Any]:
        """Every field, defaults included, times rendered as API strings."""
        return {k: _render(v) for k, v in self.model_dump().items()}


def _render(value: Any) -> Any:
    return to_iso(value) if isinstance(value, datetime) else value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a timezone (for example a trailing Z)")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Text = Annotated[str, StringConstraints(max_length=65_536)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Time = Annotated[datetime, AfterValidator(_aware)]
