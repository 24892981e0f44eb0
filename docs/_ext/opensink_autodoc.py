"""Lets autodoc document the Python client's resource methods as the methods they read as.

``client.sinks.get(id)`` is declared once for both clients with the ``endpoint`` and ``every_page``
decorators (``jupyter_opensink/client/calls.py``), which are descriptors, not functions: read from the
class, they are not callable, and autodoc cannot take their signature. When autodoc reads one from a class,
this hands it a stand-in function instead, with the declared method's name, docstring and parameters but no
return annotation (what a call returns depends on the client: the reply, or an awaitable of it).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from sphinx.application import Sphinx
from sphinx.util.inspect import safe_getattr


def as_method(declared: Any) -> Any:
    def method(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # never called: autodoc only reads it

    functools.update_wrapper(method, declared.__wrapped__)
    method.__annotations__ = {k: v for k, v in method.__annotations__.items() if k != "return"}
    method.__signature__ = inspect.signature(declared.__wrapped__).replace(  # type: ignore[attr-defined]
        return_annotation=inspect.Signature.empty)
    return method


def class_attribute(cls: type, name: str, *default: Any) -> Any:
    from jupyter_opensink.client.calls import endpoint, every_page

    value = safe_getattr(cls, name, *default)
    return as_method(value) if isinstance(value, (endpoint, every_page)) else value


def setup(app: Sphinx) -> dict[str, object]:
    app.setup_extension("sphinx.ext.autodoc")
    app.add_autodoc_attrgetter(type, class_attribute)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
