"""ipywidgets for people in notebooks: the inbox of pending input requests and their forms."""

from .forms import build
from .inbox import Inbox, RequestForm

__all__ = ["Inbox", "RequestForm", "build"]
