"""E-mail of new risk signals to the people who should see them: every enabled admin, and each
enabled manager whose grants cover the employee (access.scope.Scope, as for reading mail).

One message per recipient lists their new signals. A signal is marked notified when every mail
it was in was accepted; when the mail server fails, one line is logged and the next scan tries
again. Sent through [notify] smtp_server with smtplib (a local MTA, no authentication).
"""

from __future__ import annotations

import logging
import smtplib
import socket
from collections import defaultdict
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import select, update

from mailvault.access.models import UserRole
from mailvault.access.scope import Scope
from mailvault.access.users import UserInfo, list_users
from mailvault.archive.arrival import utcnow
from mailvault.archive.db import Database
from mailvault.config import Settings
from mailvault.errors import ConfigError
from mailvault.signals.models import RiskSignal
from mailvault.signals.store import SignalView, covers, to_view

log = logging.getLogger(__name__)

BATCH = 200  # signals mailed per scan at most; the rest go next time
_TIMEOUT = 30.0


def recipients_for(users: list[UserInfo], employee: str) -> list[str]:
    """Addresses of the enabled admins and of the managers who may read `employee`'s mail."""
    found = set()
    for user in users:
        if user.disabled or "@" not in user.email:
            continue
        if user.role is UserRole.ADMIN or (
            user.role is UserRole.MANAGER and covers(Scope.of(user), employee)
        ):
            found.add(user.email)
    return sorted(found)


def notify_new(db: Database, settings: Settings) -> tuple[int, int]:
    """Mail the signals not yet notified nor dismissed; (signals notified, signals failed)."""
    with db.reading() as session:
        pending = [
            to_view(s)
            for s in session.scalars(
                select(RiskSignal)
                .where(RiskSignal.notified_at.is_(None), RiskSignal.dismissed_at.is_(None))
                .order_by(RiskSignal.signal_id)
                .limit(BATCH)
            )
        ]
    if not pending:
        return 0, 0
    users = list_users(db)
    by_recipient: defaultdict[str, list[SignalView]] = defaultdict(list)
    nobody: list[int] = []
    for signal in pending:
        to = recipients_for(users, signal.employee)
        if not to:
            nobody.append(signal.signal_id)
        for address in to:
            by_recipient[address].append(signal)
    failed: set[int] = set()
    if by_recipient:
        failed = _send(settings, by_recipient)
    done = [s.signal_id for s in pending if s.signal_id not in failed]
    if done:
        with db.writing() as session:
            session.execute(
                update(RiskSignal).where(RiskSignal.signal_id.in_(done)).values(notified_at=utcnow())
            )
    if nobody:
        log.info("signals %s: no admin or manager with an e-mail address covers them", nobody)
    return len(done) - len(nobody), len(failed)


def _send(settings: Settings, by_recipient: dict[str, list[SignalView]]) -> set[int]:
    """Send each recipient's mail; the ids of signals in a mail that was not accepted."""
    host, port = _server(settings.notify.smtp_server)
    sender = settings.notify.from_address or f"mailvault@{socket.getfqdn()}"
    failed: set[int] = set()
    try:
        with smtplib.SMTP(host, port, timeout=_TIMEOUT) as smtp:
            for address, signals in sorted(by_recipient.items()):
                try:
                    smtp.send_message(_message(sender, address, signals))
                except smtplib.SMTPException as exc:
                    log.warning("signal mail to %s failed (%s); retried at the next scan", address, exc)
                    failed.update(s.signal_id for s in signals)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning(
            "signal mail not sent: [notify] smtp_server %s:%d failed (%s); retried at the next scan",
            host,
            port,
            exc,
        )
        failed = {s.signal_id for signals in by_recipient.values() for s in signals}
    return failed


def _message(sender: str, recipient: str, signals: list[SignalView]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    count = len(signals)
    msg["Subject"] = f"[mailvault] {count} new risk signal{'s' if count != 1 else ''} / {count} 条新风险提示"
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    lines = [
        "mailvault found these risk signals in archived mail (times UTC).",
        "mailvault 在归档邮件中发现以下风险提示（时间为 UTC）。",
        "",
    ]
    for s in signals:
        when = s.occurred_at.isoformat(sep=" ", timespec="minutes")
        lines += [
            f"#{s.signal_id}  {when}  {s.kind}  {s.employee}",
            f"    {s.summary}",
            f"    messages: {', '.join(str(i) for i in s.archive_ids[:20])}"
            + (" …" if len(s.archive_ids) > 20 else ""),
            "",
        ]
    lines += [
        "Review them in the web app (Risk signals) or with `mailvault alerts`;",
        "dismiss a false positive with `mailvault alerts dismiss ID --reason TEXT`.",
    ]
    msg.set_content("\n".join(lines) + "\n")
    return msg


def _server(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"[notify] smtp_server = {value!r} is not host:port, e.g. 127.0.0.1:25")
    return host.strip("[]"), int(port)
