"""The notebook inbox: pending input requests, answered in place.

``RequestForm`` renders one request as a form built from its JSON Schema and
resolves it through the client; its "Copy approval link" button makes a
single-use link for someone without Jupyter access and shows it to copy.
``Inbox`` lists a workspace's pending requests and follows the live event stream (no polling): a new request
appears, an answered or expired one leaves.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ..client import AsyncClient, Client, OpenSinkError
from .forms import Field, build

log = logging.getLogger(__name__)
REQUEST_EVENTS = ["input_request.created", "input_request.resolved", "input_request.expired"]


class RequestForm(w.VBox):
    """One input request: its title, message, agent and session, a generated form, submit (and reject)."""

    def __init__(self, request: dict[str, Any], client: Client, *, agent_name: str | None = None,
                 on_done: Callable[[dict[str, Any]], None] | None = None):
        self.request = request
        self.client = client
        self.on_done = on_done
        self.field: Field = build(request.get("schema") or {}, required=True, top=True)
        header = w.HTML(
            f"<h4 style='margin:4px 0'>{html.escape(request['title'])}</h4>"
            f"<div>{html.escape(request.get('message') or '')}</div>"
            f"<small>agent {html.escape(agent_name or request['agent_id'])} · session "
            f"<code>{html.escape(request['session_id'])}</code> · key <code>{html.escape(request['key'])}</code>"
            f"</small>")
        self.submit_button = w.Button(description="Submit", button_style="primary", icon="check")
        self.submit_button.on_click(lambda _: self.submit())
        buttons: list[w.Widget] = [self.submit_button]
        self.link_button = w.Button(description="Copy approval link", icon="link",
                                    tooltip="A single-use link to a page that answers this request, for someone "
                                            "without Jupyter access")
        self.link_button.on_click(lambda _: self.make_link())
        buttons.append(self.link_button)
        self.link_text: w.Text | None = None  # made with the first link: a form without one has no extra input
        self.link_box = w.VBox()
        self.error = w.HTML()
        self.status = w.HTML()
        super().__init__([header, self.field.widget, w.HBox(buttons), self.link_box, self.error, self.status],
                         layout=w.Layout(border="1px solid #bbb", padding="6px", margin="4px 0"))

    def response(self) -> dict[str, Any]:
        value = self.field.value()
        return value if isinstance(value, dict) else {}

    def submit(self) -> dict[str, Any] | None:
        """Resolve with what the form holds; errors are shown and the form keeps its values."""
        try:
            response = self.response()
        except ValueError as exc:
            self._show_error(str(exc))
            return None
        try:
            resolved = self.client.input_requests.resolve(self.request["id"], response)
        except OpenSinkError as exc:
            self._show_error(exc.message)
            return None
        self.error.value = ""
        self.request = resolved
        self.status.value = (f"<span style='color:green'>✔ Resolved at {html.escape(resolved['resolved_at'])} "
                             f"from this notebook</span>")
        self.children = (self.children[0], self.status)  # collapse: the answer is in
        if self.on_done:
            self.on_done(resolved)
        return resolved

    def make_link(self, **options: Any) -> dict[str, Any] | None:
        """Create an approval link (``expires_in``, ``note``) and show its URL, selected for copying."""
        try:
            link = self.client.input_requests.create_link(self.request["id"], **options)
        except OpenSinkError as exc:
            self._show_error(exc.message)
            return None
        self.error.value = ""
        self.link_text = w.Text(value=link["url"], description="Link", layout=w.Layout(width="95%"))
        note = w.HTML(f"<small>Copy it into chat or mail. It answers this request once and works until "
                      f"{html.escape(link['expires_at'])}.</small>")
        self.link_box.children = (self.link_text, note)
        return link

    def _show_error(self, message: str) -> None:
        self.error.value = f"<span style='color:#b00'>⚠ {html.escape(message)}</span>"


class Inbox(w.VBox):
    """Pending input requests, newest first, kept current by the event stream."""

    def __init__(self, client: Client | None = None, *, async_client: AsyncClient | None = None,
                 agent_id: str | None = None, session_id: str | None = None, live: bool = True):
        self.client = client or Client()
        self.async_client = async_client
        self.filters = {k: v for k, v in (("agent_id", agent_id), ("session_id", session_id)) if v}
        self.forms: dict[str, RequestForm] = {}
        self.count = w.HTML()
        self.empty = w.HTML("<i>No pending requests. New ones appear here as agents ask.</i>")
        self.list_box = w.VBox()
        self._task: asyncio.Task | None = None
        self._agent_names: dict[str, str] = {}
        super().__init__([self.count, self.empty, self.list_box])
        self.refresh()
        if live:
            self.start()

    # -- content -----------------------------------------------------------------
    def refresh(self) -> None:
        """Re-list pending requests (at start, and after a ``reset`` from the stream)."""
        pending = list(self.client.input_requests.iter(status="pending", **self.filters))
        self.forms = {}
        for request in pending:
            self.forms[request["id"]] = self._form(request)
        self._render()

    def _agent_name(self, agent_id: str) -> str:
        if agent_id not in self._agent_names:
            try:
                self._agent_names[agent_id] = self.client.agents.get(agent_id)["name"]
            except OpenSinkError:
                self._agent_names[agent_id] = agent_id
        return self._agent_names[agent_id]

    def _form(self, request: dict[str, Any]) -> RequestForm:
        return RequestForm(request, self.client, agent_name=self._agent_name(request["agent_id"]),
                           on_done=lambda done: self.remove(done["id"]))

    def _matches(self, request: dict[str, Any]) -> bool:
        return all(request.get(k) == v for k, v in self.filters.items())

    def add(self, request: dict[str, Any]) -> None:
        if request["status"] == "pending" and self._matches(request) and request["id"] not in self.forms:
            self.forms = {request["id"]: self._form(request), **self.forms}  # newest first
            self._render()

    def remove(self, request_id: str) -> None:
        if self.forms.pop(request_id, None) is not None:
            self._render()

    def _render(self) -> None:
        n = len(self.forms)
        self.count.value = f"<b>{n} pending request{'s' if n != 1 else ''}</b>"
        self.empty.layout.display = "none" if n else ""
        self.list_box.children = tuple(self.forms.values())

    @property
    def pending_ids(self) -> list[str]:
        return list(self.forms)

    # -- live updates ------------------------------------------------------------
    def start(self) -> None:
        """Follow the event stream on the running loop (a notebook kernel's); no-op without one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._task is None:
            self.async_client = self.async_client or AsyncClient()
            self._task = loop.create_task(self._follow())

    async def _follow(self) -> None:
        stream = self.async_client.events(types=REQUEST_EVENTS)
        try:
            async for event in stream:
                try:
                    if event.type == "reset":
                        self.refresh()
                    elif event.type == "input_request.created":
                        self.add(event.data)
                    else:
                        self.remove(event.data["id"])
                except Exception:
                    log.exception("inbox could not apply %s", event.type)
        finally:
            await stream.aclose()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
