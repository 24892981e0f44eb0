"""jupyter_opensink: the OpenSink agent API, served from inside a Jupyter server."""

from ._version import __version__


def _jupyter_server_extension_points() -> list[dict]:
    from .app import OpenSinkApp

    return [{"module": "jupyter_opensink", "app": OpenSinkApp}]


def inbox(**filters):
    """The pending input requests of this server's workspace, answerable in place (a widget)."""
    from .widgets import Inbox

    return Inbox(**filters)


__all__ = ["__version__", "inbox"]
