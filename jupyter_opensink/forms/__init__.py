"""The one form engine: JSON Schema -> a tree of field descriptions -> back to JSON.

Kernel-safe and pure data (no server, ipywidgets or tornado imports): the notebook widget
(``widgets/forms.py``) and the approval page both draw its tree; the labextension's ``forms.ts``
is a port of it, tied to it by the shared case table ``tests/fixtures/form-cases.json``.
"""

from .engine import FormErrors, FormField, asks_time, describe, proposed, read, where
from .moments import UTC_OFFSETS, offset_zone, wall_time
from .rules import LONG_TEXT

__all__ = ["LONG_TEXT", "UTC_OFFSETS", "FormErrors", "FormField", "asks_time", "describe", "offset_zone",
           "proposed", "read", "wall_time", "where"]
