"""Writes ``client/types.py``: the replies' shapes as TypedDicts, generated from the reply models.

The pydantic reply models in ``jupyter_opensink/models`` (every subclass of
``models.common.Resource``) are the one declaration of what the server sends.
The client returns the parsed JSON as plain dicts, so it gets TypedDicts that
mirror those models field for field: an IDE completes ``request["status"]``
and a type checker flags a misspelt key, without the client importing pydantic
or anyone writing the fields a second time.

Run ``python -m jupyter_opensink.client.typegen`` after changing a reply model;
tests/test_client_types.py fails while the committed file is out of date.
Only this generator imports the models; the client imports its output.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import textwrap
import types
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from .. import models
from ..models.common import Model, Resource, Stored, page_of

TARGET = Path(__file__).with_name("types.py")
WIDTH = 110

HEADER = '''\
"""The replies' shapes as TypedDicts: what each client method returns.

Generated from the pydantic reply models in jupyter_opensink/models by
``python -m jupyter_opensink.client.typegen``: do not edit by hand. At run time
the results are plain dicts of parsed JSON, so times are ISO-8601 strings.
"""

from __future__ import annotations

import sys
from typing import Any, Generic, Literal, TypeVar

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # NotRequired, and a generic TypedDict (Page), need typing_extensions before Python 3.11
    from typing_extensions import NotRequired, TypedDict

ItemT = TypeVar("ItemT")
'''

#: Plain values as they arrive in JSON.
SCALARS: dict[Any, str] = {str: "str", int: "int", float: "float", bool: "bool", type(None): "None",
                           datetime: "str", Any: "Any"}


def reply_models() -> list[type[BaseModel]]:
    """Every reply model declared in ``jupyter_opensink.models``, in declaration order per module."""
    found: list[type[BaseModel]] = []
    for info in sorted(pkgutil.iter_modules(models.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{models.__name__}.{info.name}")
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, Resource) and value is not Resource
                    and value.__module__ == module.__name__):
                found.append(value)
    return found


class Writer:
    """Renders models as TypedDict classes, each after its base, pulling in the models their fields use."""

    def __init__(self) -> None:
        self.done: dict[str, type[BaseModel]] = {}
        self.blocks: list[str] = []

    def annotation(self, hint: Any, item: type[BaseModel] | None = None) -> str:
        """``hint`` as a type expression over JSON values; ``item`` is rendered as ``ItemT``."""
        if item is not None and hint is item:
            return "ItemT"
        if hint in SCALARS:
            return SCALARS[hint]
        origin, args = get_origin(hint), get_args(hint)
        if origin is Annotated:
            return self.annotation(args[0], item)
        if origin in (Union, types.UnionType):
            return " | ".join(self.annotation(arg, item) for arg in args)
        if origin is Literal:
            values = (json.dumps(v) if isinstance(v, str) else repr(v) for v in args)
            return f"Literal[{', '.join(values)}]"
        if origin in (list, dict):
            return f"{origin.__name__}[{', '.join(self.annotation(arg, item) for arg in args)}]"
        if isinstance(hint, type) and issubclass(hint, BaseModel):
            self.add(hint)
            return hint.__name__
        raise TypeError(f"no TypedDict rendering for {hint!r}: teach client/typegen.py this kind of field")

    def add(self, model: type[BaseModel]) -> None:
        if self.done.get(model.__name__) is model:
            return
        if model.__name__ in self.done:
            raise ValueError(f"two reply models are named {model.__name__}")
        self.done[model.__name__] = model
        base = next(b for b in model.__mro__[1:] if issubclass(b, BaseModel))
        inherits = base not in (Resource, Model, BaseModel)
        if inherits:
            self.add(base)
        own = {name: info for name, info in model.model_fields.items()
               if not inherits or name not in base.model_fields}
        lines = [f"class {model.__name__}({base.__name__ if inherits else 'TypedDict'}):"]
        lines += [f"    {line}" if line else "" for line in docstring(model.__dict__.get("__doc__"))]
        for name, info in own.items():
            annotation = self.annotation(info.annotation)
            if not info.is_required():  # a field with a default may be left out of the reply
                annotation = f"NotRequired[{annotation}]"
            lines += field_lines(info.alias or name, annotation, info.description)
        if len(lines) == 1:
            lines.append("    pass")
        self.blocks.append("\n".join(lines))

    def page(self) -> None:
        """``Page[ItemT]``: the fields of ``models.common.page_of``, generic in the item."""
        shape = page_of(Stored)
        lines = ["class Page(TypedDict, Generic[ItemT]):",
                 '    """One page of a listing: ``items``, newest first unless $order=asc, and the ``trail`` '
                 'to the next."""']
        for name, info in shape.model_fields.items():
            lines += field_lines(info.alias or name, self.annotation(info.annotation, item=Stored),
                                 info.description)
        self.blocks.append("\n".join(lines))


def docstring(text: str | None) -> list[str]:
    if not text:
        return []
    text = " ".join(text.split())
    wrapped = textwrap.wrap(text, WIDTH - 10, break_on_hyphens=False)
    if len(wrapped) == 1:
        return [f'"""{text}"""']
    return ['"""' + wrapped[0], *wrapped[1:], '"""']


def field_lines(key: str, annotation: str, description: str | None) -> list[str]:
    if not key.isidentifier():
        raise ValueError(f"field {key!r} is no identifier: render it with the functional TypedDict syntax")
    text = " ".join((description or "").split())
    comment = textwrap.wrap(text, WIDTH - 7, break_on_hyphens=False)
    line = f"    {key}: {annotation}"
    if len(line) > WIDTH and annotation.startswith("Literal["):
        inner = textwrap.wrap(annotation[len("Literal["):-1], WIDTH - 8, break_long_words=False)
        line = f"    {key}: Literal[\n" + "\n".join(f"        {part}" for part in inner) + "]"
    return [f"    #: {part}" for part in comment] + [line]


def render() -> str:
    """The text of ``client/types.py`` for the models as they are now."""
    writer = Writer()
    writer.page()
    for model in reply_models():
        writer.add(model)
    return HEADER + "".join(f"\n\n{block}\n" for block in writer.blocks)


def main() -> None:
    TARGET.write_text(render())
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
