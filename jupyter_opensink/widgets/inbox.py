"""The notebook inbox: pending input requests, answered in place.

``RequestForm`` renders one request as a form built from its JSON Schema, filled with the agent's
proposal, beside its evidence, and resolves it through the client with the decision the person
picks; its "Copy approval link" button makes a single-use link for someone without Jupyter access
and shows it to copy.
``Inbox`` lists a workspace's pending requests and follows the live event stream (no polling): a new request
appears, an answered or expired one leaves.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import ipywidgets as w

from .. import evidence
from ..client import AsyncClient, Client, OpenSinkError
from ..forms import proposed, where
from .forms import Field, build

log = logging.getLogger(__name__)
REQUEST_EVENTS = ["input_request.created", "input_request.resolved", "input_request.expired"]


#: The buttons a request's ``decisions`` offer, in the order shown (as on the approval page):
#: (decision, label, button style, icon).
DECISION_BUTTONS = (("approve", "Approve", "success", "check"), ("respond", "Reply", "info", "reply"),
                    ("reject", "Reject", "danger", "times"))
#: What the status line says once answered, by the decision recorded.
DONE = {"approve": "Approved", "reject": "Rejected", "respond": "Reply sent", None: "Resolved"}
#: Answered or expired requests an inbox keeps showing as notes, at most.
MAX_NOTES = 20
#: Longest comment, as the API takes it.
COMMENT_MAX = 4000
#: "Approve and remember": how long the same approval is given again without asking (label, seconds).
REMEMBER_CHOICES = (("for an hour", 3600), ("for a day", 86400), ("for a week", 7 * 86400))
NO_REPLY = "Comment: write your reply: it is what the agent receives instead of a decision"


def local_time(moment: str | None) -> str:
    """An API time (UTC) as this machine's local time with its zone, written as every surface writes one:
    ``7 Dec 2026, 09:30 CET``."""
    if not moment:
        return ""
    at = datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone()
    return f"{at.day} {at:%b %Y, %H:%M %Z}"


def _warning(message: str) -> str:
    return f"<span style='color:#b00'>⚠ {html.escape(message)}</span>"


class RequestForm(w.VBox):
    """One input request: its title, message, agent and session, its evidence, a form filled with what the
    agent proposes, and its answers: one Submit, or a button per decision the request offers (Approve sends
    the form, Reject sends only the comment, Reply needs one)."""

    def __init__(self, request: dict[str, Any], client: Client, *, agent_name: str | None = None,
                 on_done: Callable[[dict[str, Any]], None] | None = None):
        self.request = request
        self.client = client
        self.on_done = on_done
        self.decisions: list[str] = list(request.get("decisions") or [])
        self.field: Field = build(proposed(request.get("schema") or {}, request.get("defaults")),
                                  required=True, top=True)
        header = w.HTML(
            f"<h4 style='margin:4px 0'>{html.escape(request['title'])}</h4>"
            f"<div>{html.escape(request.get('message') or '')}</div>"
            f"<small>asked by {html.escape(agent_name or self._agent_name(request['agent_id']))} · "
            f"{html.escape(local_time(request.get('created_at')))}</small>")
        # Evidence as notebook outputs, drawn by the front end's own renderers (tables, images, charts). An
        # Output's outputs are trusted, so they hold only what ``evidence.safe_bundle`` made inert.
        self.context = w.Output()
        self.context.outputs = tuple(evidence.display_outputs(request.get("context")))
        self.submit_button: w.Button | None = None
        if not self.decisions:
            self.submit_button = w.Button(description="Submit", button_style="primary", icon="check")
            self.submit_button.on_click(lambda _: self.submit())
        #: A button per decision offered, by decision.
        self.decision_buttons: dict[str, w.Button] = {}
        for decision, label, style, icon in DECISION_BUTTONS:
            if decision in self.decisions:
                button = self.decision_buttons[decision] = w.Button(description=label, button_style=style,
                                                                    icon=icon)
                button.on_click(lambda _, chosen=decision: self.decide(chosen))
        self.approve_button = self.decision_buttons.get("approve")
        self.reply_button = self.decision_buttons.get("respond")
        self.reject_button = self.decision_buttons.get("reject")
        buttons: list[w.Widget] = [*([self.submit_button] if self.submit_button else []),
                                   *self.decision_buttons.values()]
        #: "Approve and remember": checked, Approve also creates a policy approving the same proposal of this
        #: agent and key for the chosen time.
        self.remember: w.Checkbox | None = None
        self.remember_for: w.Dropdown | None = None
        if self.approve_button is not None:
            self.remember = w.Checkbox(value=False, description="Remember", indent=False,
                                       layout=w.Layout(width="auto"),
                                       tooltip="Approve the same proposal of this agent again without asking")
            self.remember_for = w.Dropdown(options=REMEMBER_CHOICES, value=86400, layout=w.Layout(width="9em"))
            buttons.insert(buttons.index(self.approve_button) + 1, w.HBox([self.remember, self.remember_for]))
        self.comment: w.Textarea | None = None
        self.comment_problem = w.HTML()
        comment_box: list[w.Widget] = []
        if "reject" in self.decisions or "respond" in self.decisions:
            self.comment = w.Textarea(description="Comment", placeholder=self._comment_hint(),
                                      layout=w.Layout(width="95%", height="4em"))
            comment_box = [self.comment, self.comment_problem]
        self.link_button = w.Button(description="Copy approval link", icon="link",
                                    layout=w.Layout(width="auto"),  # the whole label, never cut off
                                    tooltip="A single-use link to a page that answers this request, for someone "
                                            "without Jupyter access")
        self.link_button.on_click(lambda _: self.make_link())
        buttons.append(self.link_button)
        self.link_text: w.Text | None = None  # made with the first link: a form without one has no extra input
        self.link_box = w.VBox()
        self.error = w.HTML()
        self.status = w.HTML()
        super().__init__([header, self.context, self.field.widget, *comment_box, w.HBox(buttons), self.link_box,
                          self.error, self.status],
                         layout=w.Layout(border="1px solid #bbb", padding="6px", margin="4px 0"))

    def _agent_name(self, agent_id: str) -> str:
        """The agent's name (a form made on its own, outside an inbox, looks it up once)."""
        try:
            return self.client.agents.get(agent_id)["name"]
        except OpenSinkError:
            return "an agent"

    def _comment_hint(self) -> str:
        if "respond" not in self.decisions:
            return "Optional: why you reject"
        if "reject" not in self.decisions:
            return "Your reply to the agent (needed for Reply)"
        return "Why you reject, or your reply to the agent (needed for Reply)"

    def response(self) -> dict[str, Any]:
        value = self.field.value()
        return value if isinstance(value, dict) else {}

    def submit(self) -> dict[str, Any] | None:
        """Resolve with what the form holds (a request without decisions); errors are shown beside their
        fields and the form keeps its values."""
        return self._answer(None)

    def decide(self, decision: str) -> dict[str, Any] | None:
        """Answer with one of the request's decisions: ``approve`` sends the form, ``reject`` only the
        comment (the form is not read), ``respond`` needs the comment."""
        return self._answer(decision)

    def _answer(self, decision: str | None) -> dict[str, Any] | None:
        comment = (self.comment.value.strip() if self.comment is not None else "") or None
        self.comment_problem.value = ""
        if comment is not None and len(comment) > COMMENT_MAX:
            return self._comment_refused(f"Comment: at most {COMMENT_MAX:,} characters "
                                         f"(this one has {len(comment):,})")
        if decision == "respond" and comment is None:
            return self._comment_refused(NO_REPLY)
        response = None
        if decision in (None, "approve"):
            try:
                response = self.response()
            except ValueError as exc:
                self._show_error(str(exc))
                return None
        remember = (self.remember_for.value if decision == "approve" and self.remember is not None
                    and self.remember.value and self.remember_for is not None else None)
        try:
            resolved = self.client.input_requests.resolve(self.request["id"], response, decision=decision,
                                                          comment=comment, remember_seconds=remember)
        except OpenSinkError as exc:
            said = self._show_violations(exc.body)
            self._show_error("; ".join(said) if said else exc.message)
            return None
        self.error.value = ""
        self.settled(resolved)
        if self.on_done:
            self.on_done(resolved)
        return resolved

    def settled(self, request: dict[str, Any]) -> None:
        """The request as answered (here or elsewhere) or expired: the form gives way to a note saying what
        was decided, by whom and when (in this machine's time zone), which stays."""
        self.request = request
        if request["status"] == "expired":
            self.status.value = "<span style='color:#b00'>✖ Expired without an answer</span>"
        else:
            said = DONE.get(request.get("decision"), DONE[None])
            by = f" by {html.escape(request['resolved_by_name'])}" if request.get("resolved_by_name") else ""
            comment = f": “{html.escape(request['comment'])}”" if request.get("comment") else ""
            self.status.value = (f"<span style='color:green'>✔ {said}{by} at "
                                 f"{html.escape(local_time(request.get('resolved_at')))}{comment}</span>")
        self.children = (self.children[0], self.status)  # collapse: the answer is in

    def _comment_refused(self, message: str) -> None:
        self.comment_problem.value = _warning(message)
        self._show_error(message)

    def _show_violations(self, body: Any) -> list[str]:
        """Each of a 400's ``violations`` beside the field it names, as the form labels it; returns them
        all as said (one whose field is not drawn is said only above)."""
        found = body.get("violations") if isinstance(body, dict) else None
        said, problems = [], {}
        for violation in found if isinstance(found, list) else []:
            text = f"{violation.get('field')}: {violation.get('message')}"
            said.append(text)
            name = where(self.field.spec, str(violation.get("path", "")))
            if name:
                problems.setdefault(name, text)
        self.field.show_problems(problems)
        return said

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
        self.error.value = _warning(message)


class Inbox(w.VBox):
    """Pending input requests, newest first, kept current by the event stream."""

    def __init__(self, client: Client | None = None, *, async_client: AsyncClient | None = None,
                 agent_id: str | None = None, session_id: str | None = None, live: bool = True):
        self.client = client or Client()
        self.async_client = async_client
        self.filters = {k: v for k, v in (("agent_id", agent_id), ("session_id", session_id)) if v}
        self.forms: dict[str, RequestForm] = {}
        #: Requests answered or expired while shown, newest first: each says what happened.
        self.notes: list[RequestForm] = []
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
                           on_done=lambda done: self.settle(done))

    def _matches(self, request: dict[str, Any]) -> bool:
        return all(request.get(k) == v for k, v in self.filters.items())

    def add(self, request: dict[str, Any]) -> None:
        if request["status"] == "pending" and self._matches(request) and request["id"] not in self.forms:
            self.forms = {request["id"]: self._form(request), **self.forms}  # newest first
            self._render()

    def remove(self, request_id: str) -> None:
        if self.forms.pop(request_id, None) is not None:
            self._render()

    def settle(self, request: dict[str, Any]) -> None:
        """A request answered (here or elsewhere) or expired leaves the pending ones and stays as a note
        saying what happened (the newest ``MAX_NOTES``)."""
        form = self.forms.pop(request["id"], None)
        if form is None:
            return
        form.settled(request)
        self.notes = [form, *[n for n in self.notes if n is not form]][:MAX_NOTES]
        self._render()

    def _render(self) -> None:
        n = len(self.forms)
        self.count.value = f"<b>{n} pending request{'s' if n != 1 else ''}</b>"
        self.empty.layout.display = "none" if n else ""
        self.list_box.children = tuple(self.forms.values()) + tuple(self.notes)

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
                    elif event.type in ("input_request.resolved", "input_request.expired"):
                        self.settle(event.data)
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
