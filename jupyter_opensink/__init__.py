"""jupyter_opensink: the OpenSink agent API, served from inside a Jupyter server."""

from ._version import __version__

__all__ = ["__version__"]
