"""What the gateway does with each SMTP transaction: refuse by policy, journal durably, answer.

The reply to DATA is 250 only after the exact bytes and the envelope are fsynced in the spool.
Any failure of mailvault itself answers 451 4.3.0, so the sending MTA keeps the message and
retries; only deliberate policy refusals are permanent (5xx).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from mailvault.archive.direction import classify
from mailvault.gateway.journal import decode_recipient
from mailvault.gateway.relay import NextHop, RelaySession, Reply
from mailvault.gateway.server import GatewaySMTP
from mailvault.journal.spool import Spool, SpoolError

log = logging.getLogger(__name__)

TEMPORARY_FAILURE = "451 4.3.0 Temporary failure in mailvault; please try again later"


@dataclass(frozen=True, slots=True)
class ListenerPolicy:
    mode: str  # "journal" or "relay"
    max_recipients: int
    journal_domain: str
    next_hop: NextHop | None = None  # relay mode only
    company_domains: tuple[str, ...] = ()


class GatewayHandler:
    """aiosmtpd handler of one listener."""

    def __init__(self, spool: Spool, policy: ListenerPolicy) -> None:
        self.spool = spool
        self.policy = policy
        self._recording: set[asyncio.Task[None]] = set()

    def _relay(self, server: SMTP) -> RelaySession | None:
        """The next-hop session of this client session (relay mode), created on first use."""
        if self.policy.next_hop is None or not isinstance(server, GatewaySMTP):
            return None
        if server.relay is None:
            server.relay = RelaySession(self.policy.next_hop)
        return server.relay

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        relay = self._relay(server)
        if relay is not None:
            reply = await relay.mail(address, mail_options, dict(getattr(server, "xforward", {}) or {}))
            if not reply.ok:
                log.warning(
                    "MAIL FROM:<%s> from %s: next hop answered %s", address, _peer(session), reply.line
                )
                return reply.line
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RSET(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        relay = self._relay(server)
        if relay is not None:
            await relay.reset()
        return "250 2.0.0 Ok"

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
        relay = self._relay(server)
        if relay is not None:
            reply = await relay.rcpt(address)
            if not reply.ok:  # the next hop's answer for this recipient, as it gave it
                log.info("RCPT TO:<%s> from %s: next hop answered %s", address, _peer(session), reply.line)
                return reply.line
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        started = time.monotonic()
        raw = envelope.original_content or b""
        queue_id = os.urandom(6).hex().upper()  # secrets.token_hex(6), without its layers
        header = self._header(server, session, envelope, queue_id)
        relay = self._relay(server)
        try:
            # Journal first: nothing is passed on that could not be archived.
            await self.spool.append(header, raw)
        except SpoolError as exc:
            log.error("not accepted: from=<%s> size=%d: %s", envelope.mail_from, len(raw), exc)
            if relay is not None:
                await relay.reset()
            return TEMPORARY_FAILURE
        reply = f"250 2.0.0 Ok: queued as {queue_id}"
        if relay is not None:
            hop = await relay.data(raw)
            # The answer is recorded without holding up the reply: the message itself is durable
            # already, and an answer lost in a crash is archived as "unknown" (mailvault/journal/drain.py).
            task = asyncio.create_task(self._record_outcome(queue_id, _outcome(queue_id, hop, relay)))
            self._recording.add(task)
            task.add_done_callback(self._recording.discard)
            if not hop.ok:
                # The archive has it; the sender's queue keeps custody of the delivery.
                reply = f"451 4.4.0 Next hop did not accept the message ({hop.code} {hop.one_line[:200]})"
            else:
                reply = f"250 2.0.0 Ok: queued as {queue_id} (next hop: {hop.one_line[:120]})"
        if log.isEnabledFor(logging.INFO):  # the arguments cost more than the call
            direction = classify(envelope.mail_from or "", header["recipients"], self.policy.company_domains)
            log.info(
                "%s: journaled from=<%s> rcpts=%d size=%d client=%s mode=%s direction=%s result=%s ms=%.1f",
                queue_id,
                envelope.mail_from,
                len(envelope.rcpt_tos),
                len(raw),
                _peer(session),
                self.policy.mode,
                direction.value,
                reply[:3],
                (time.monotonic() - started) * 1000,
            )
        return reply

    async def _record_outcome(self, queue_id: str, outcome: dict[str, Any]) -> None:
        """What the next hop did with a journaled message, recorded with it in the archive."""
        try:
            await self.spool.append(outcome, b"")
        except SpoolError as exc:
            log.error("%s: cannot record the next hop's answer (%s)", queue_id, exc)

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd's default would answer a permanent 500 and the sender would bounce the mail.
        log.error("SMTP session failed: %s: %s", type(error).__name__, error, exc_info=error)
        return TEMPORARY_FAILURE

    def _header(self, server: SMTP, session: Session, envelope: Envelope, queue_id: str) -> dict[str, Any]:
        decoded = (decode_recipient(r, self.policy.journal_domain) for r in envelope.rcpt_tos)
        recipients = [r for r in decoded if r is not None]
        ssl = session.ssl or {}
        return {
            "kind": "message",
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


def _outcome(queue_id: str, hop: Reply, relay: RelaySession) -> dict[str, Any]:
    """The spool record of the next hop's answer (taken now: the session moves on)."""
    return {
        "kind": "outcome",
        "queue_id": queue_id,
        "relay": {
            "code": hop.code,
            "reply": hop.text[:500],
            "accepted": list(relay.accepted),
            "refused": {rcpt: f"{r.code} {r.text[:200]}" for rcpt, r in relay.refused.items()},
            "next_hop": f"{relay.hop.host}:{relay.hop.port}",
        },
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
