"""Relay mode: one next-hop SMTP session per client session, driven step by step, so that the next
hop's answer to each RCPT reaches the client and the client's 250 means the next hop has the mail.

mailvault keeps no queue of its own: when the next hop cannot be reached or fails, the client gets
a 4xx and its own queue (Postfix's) keeps the message for a retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import aiosmtplib

log = logging.getLogger(__name__)

_XFORWARD_ORDER = ("NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE")


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    text: str

    @property
    def line(self) -> str:
        """The reply as one line: a multi-line answer of the next hop must not break our own."""
        return f"{self.code} {self.one_line}"

    @property
    def one_line(self) -> str:
        return " ".join(self.text.split())

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300


def unavailable(what: str) -> Reply:
    return Reply(451, f"4.4.1 Next hop unavailable ({what}); please try again later")


@dataclass
class NextHop:
    host: str
    port: int
    timeout: float = 60.0
    helo: str = "mailvault"

    @classmethod
    def parse(cls, text: str, *, helo: str) -> NextHop:
        host, _, port = text.strip().rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        return cls(host, int(port), helo=helo)


@dataclass
class RelaySession:
    """The next-hop side of one client session: MAIL, RCPT and DATA passed on as they arrive."""

    hop: NextHop
    client: aiosmtplib.SMTP | None = None
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, Reply] = field(default_factory=dict)
    # A transaction (MAIL sent, DATA not yet answered) is open at the next hop: only then does it
    # need an RSET. Postfix resets before reusing a connection; passing that on and resetting
    # again at MAIL cost two round trips a message.
    in_transaction: bool = False

    async def mail(self, sender: str, options: list[str], xforward: dict[str, str]) -> Reply:
        self.accepted, self.refused = [], {}
        try:
            if self.client is None or not self.client.is_connected:
                self.client = aiosmtplib.SMTP(
                    hostname=self.hop.host, port=self.hop.port, timeout=self.hop.timeout, start_tls=False
                )
                await self.client.connect()
                await self.client.ehlo(hostname=self.hop.helo)
            elif self.in_transaction:
                await self.client.rset()
            self.in_transaction = True
            if xforward and self.client.supports_extension("xforward"):
                await self._xforward(xforward)
            response = await self.client.mail(sender, options=_passable(options), encoding="utf-8")
        except aiosmtplib.SMTPResponseException as exc:
            return Reply(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError) as exc:
            await self.close()
            log.warning("next hop %s:%d: %s", self.hop.host, self.hop.port, exc)
            return unavailable(type(exc).__name__)
        return Reply(response.code, response.message)

    async def rcpt(self, recipient: str) -> Reply:
        if self.client is None:
            return unavailable("no session")
        try:
            response = await self.client.rcpt(recipient, encoding="utf-8")
        except aiosmtplib.SMTPResponseException as exc:
            reply = Reply(exc.code, exc.message)
            self.refused[recipient] = reply
            return reply
        except (aiosmtplib.SMTPException, OSError) as exc:
            await self.close()
            return unavailable(type(exc).__name__)
        self.accepted.append(recipient)
        return Reply(response.code, response.message)

    async def data(self, raw: bytes) -> Reply:
        if self.client is None:
            return unavailable("no session")
        self.in_transaction = False  # whatever the answer, DATA ends the transaction
        try:
            response = await self.client.data(raw)
        except aiosmtplib.SMTPResponseException as exc:
            return Reply(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError) as exc:
            await self.close()
            return unavailable(type(exc).__name__)
        return Reply(response.code, response.message)

    async def reset(self) -> None:
        if self.client is not None and self.client.is_connected and self.in_transaction:
            self.in_transaction = False
            try:
                await self.client.rset()
            except (aiosmtplib.SMTPException, OSError):
                await self.close()

    async def close(self) -> None:
        client, self.client = self.client, None
        self.in_transaction = False
        if client is None:
            return
        try:
            if client.is_connected:
                await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()

    async def _xforward(self, attributes: dict[str, str]) -> None:
        if self.client is None:
            return
        items = [
            f"{name}={attributes[name] or '[UNAVAILABLE]'}" for name in _XFORWARD_ORDER if name in attributes
        ]
        if items:
            await self.client.execute_command(b"XFORWARD", *(i.encode("utf-8", "replace") for i in items))


def _passable(options: list[str]) -> list[str]:
    """MAIL parameters the next hop can be given as they are (SIZE is recomputed by it)."""
    return [o for o in options if o.split("=", 1)[0].upper() in {"BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"}]
