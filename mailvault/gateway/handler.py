"""What the gateway does with each SMTP transaction: refuse by policy, journal durably, answer.

The reply to DATA is 250 only after the exact bytes and the envelope are fsynced in the spool.
Any failure of mailvault itself answers 451 4.3.0, so the sending MTA keeps the message and
retries; only deliberate policy refusals are permanent (5xx).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from mailvault.gateway.journal import decode_recipient
from mailvault.gateway.spool import Spool, SpoolError

log = logging.getLogger(__name__)

TEMPORARY_FAILURE = "451 4.3.0 Temporary failure in mailvault; please try again later"


@dataclass(frozen=True, slots=True)
class ListenerPolicy:
    mode: str  # "journal" or "relay"
    max_recipients: int
    journal_domain: str


class GatewayHandler:
    """aiosmtpd handler of one listener."""

    def __init__(self, spool: Spool, policy: ListenerPolicy) -> None:
        self.spool = spool
        self.policy = policy

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        # Postfix passes the original client's details when the server offers XFORWARD.
        return [*responses[:-1], "250-XFORWARD NAME ADDR PROTO HELO SOURCE IDENT", responses[-1]]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.policy.max_recipients:
            log.warning(
                "refused RCPT from %s: more than %d recipients ([smtp] max_recipients)",
                _peer(session),
                self.policy.max_recipients,
            )
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        started = time.monotonic()
        raw = envelope.original_content or b""
        queue_id = secrets.token_hex(6).upper()
        header = self._header(server, session, envelope, queue_id)
        try:
            await self.spool.append(header, raw)
        except SpoolError as exc:
            log.error("not accepted: from=<%s> size=%d: %s", envelope.mail_from, len(raw), exc)
            return TEMPORARY_FAILURE
        log.info(
            "%s: journaled from=<%s> rcpts=%d size=%d client=%s mode=%s result=250 ms=%.1f",
            queue_id,
            envelope.mail_from,
            len(envelope.rcpt_tos),
            len(raw),
            _peer(session),
            self.policy.mode,
            (time.monotonic() - started) * 1000,
        )
        return f"250 2.0.0 Ok: queued as {queue_id}"

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd's default would answer a permanent 500 and the sender would bounce the mail.
        log.error("SMTP session failed: %s: %s", type(error).__name__, error, exc_info=error)
        return TEMPORARY_FAILURE

    def _header(self, server: SMTP, session: Session, envelope: Envelope, queue_id: str) -> dict[str, Any]:
        recipients = [decode_recipient(r, self.policy.journal_domain) for r in envelope.rcpt_tos]
        ssl = session.ssl or {}
        return {
            "queue_id": queue_id,
            "mode": self.policy.mode,
            "mail_from": envelope.mail_from or "",
            "mail_options": list(envelope.mail_options),
            "rcpt_tos": list(envelope.rcpt_tos),
            "recipients": recipients,
            "client": _peer(session),
            "helo": session.host_name or "",
            "tls": bool(session.ssl),
            "tls_cipher": list(ssl["cipher"]) if isinstance(ssl, dict) and ssl.get("cipher") else None,
            "auth": _login(session),
            "xforward": dict(getattr(server, "xforward", {}) or {}),
            "received_at": datetime.now(UTC).replace(tzinfo=None).isoformat(),
        }


def _peer(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple | list) and peer:
        return str(peer[0])
    return str(peer or "")


def _login(session: Session) -> str | None:
    data = getattr(session, "auth_data", None)
    login = getattr(data, "login", None)
    if isinstance(login, bytes):
        return login.decode("utf-8", "replace")
    return str(login) if login else None
