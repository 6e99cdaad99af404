"""A next hop for relay tests: an SMTP server (aiosmtpd's test Controller) that records what it is
given and can be told to refuse recipients or messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.servers import free_port


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes


@dataclass
class SinkHandler:
    delivered: list[Delivered] = field(default_factory=list)
    refuse_recipients: dict[str, str] = field(default_factory=dict)  # address -> reply line
    refuse_data: str | None = None  # reply line to every DATA, e.g. "554 5.7.1 Rejected"
    xforward: list[dict[str, str]] = field(default_factory=list)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-XFORWARD NAME ADDR PROTO HELO", responses[-1]]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_recipients:
            return self.refuse_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_data:
            return self.refuse_data
        self.delivered.append(
            Delivered(envelope.mail_from or "", list(envelope.rcpt_tos), envelope.original_content or b"")
        )
        return "250 2.0.0 Ok: delivered"


class _XforwardSMTP(SMTP):
    """Offers and records XFORWARD, like Postfix's re-injection smtpd."""

    async def smtp_XFORWARD(self, arg: str) -> None:
        handler: SinkHandler = self.event_handler
        pairs = (item.partition("=") for item in arg.split())
        handler.xforward.append({name: value for name, _, value in pairs})
        await self.push("250 2.0.0 Ok")


class _SinkController(Controller):
    def factory(self) -> SMTP:
        return _XforwardSMTP(self.handler, **self.SMTP_kwargs)


class Sink:
    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.port = free_port()
        self._controller = _SinkController(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> Sink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
