"""A real SMTP server on a free loopback port (aiosmtpd, in a thread of its own), keeping what it receives."""

from __future__ import annotations

import email
import email.policy
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from .servers import free_port


@dataclass
class Mailbox:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"

    def url(self, to: str = "approver@example.com") -> str:
        """A ``mailto://`` channel URL sending through this server."""
        return f"mailto://127.0.0.1:{self.port}?from=opensink@example.com&to={to}"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} mails, got {len(self.messages)}")
            time.sleep(0.02)
        return self.messages


def text_of(message: EmailMessage) -> str:
    """The plain-text body, decoded (quoted-printable soft line breaks undone)."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def start_mailbox() -> tuple[Mailbox, Controller]:
    box = Mailbox(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    return box, controller
