"""jupyter_opensink: the OpenSink agent API, served from inside a Jupyter server."""

from ._version import __version__


def _jupyter_server_extension_points() -> list[dict]:
    from .app import OpenSinkApp

    return [{"module": "jupyter_opensink", "app": OpenSinkApp}]


__all__ = ["__version__"]
