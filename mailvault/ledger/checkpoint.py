"""Checkpoints: the chain head handed outside the archive, where no administrator can rewrite it.

A checkpoint is taken in four steps: read the head (with what the archive holds), have it
time-stamped when [ledger] tsa_url is set, mail its text to [ledger] checkpoint_mail_to, and only
then record it (a ledger_checkpoints row and a CHECKPOINT entry). A failure at any step records
nothing, so a checkpoint in the list was handed out as it says.
"""

from __future__ import annotations

import getpass
import os
import smtplib
import socket
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailvault.access.models import AuditEvent
from mailvault.archive.arrival import utcnow
from mailvault.archive.db import Database
from mailvault.archive.models import Blob, Message, Source
from mailvault.config import Settings
from mailvault.errors import DeliveryError, MailvaultError
from mailvault.ledger import chain, tsa
from mailvault.ledger.chain import EntryKind, Head, Seal
from mailvault.ledger.models import LedgerCheckpoint, LedgerEntry

SMTP_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Counts:
    messages: int
    arrivals: int
    audit_events: int
    stored_copies: int


@dataclass(frozen=True, slots=True)
class Taken:
    """A checkpoint as handed out: recorded (checkpoint_id), printed, maybe mailed and stamped."""

    checkpoint_id: int
    head: Head
    created_at: datetime
    created_by: str
    counts: Counts
    mailed_to: tuple[str, ...]
    stamp: tsa.Stamp | None
    tsa_url: str
    text: str


def operator() -> str:
    """Who takes the checkpoint: the system account and host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: a bare container
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def take(settings: Settings, db: Database, *, created_by: str, print_only: bool = False) -> Taken:
    """Checkpoint the current head: stamp it and mail it as configured (unless `print_only`), then
    record it. Raises (recording nothing) when the chain is empty, the TSA fails or the mail fails."""
    with db.reading() as session:
        head = chain.head(session)
        counts = Counts(
            messages=_count(session, Message),
            arrivals=_count(session, Source),
            audit_events=_count(session, AuditEvent),
            stored_copies=_count(session, Blob),
        )
    if head.seq == 0:
        raise MailvaultError("the ledger is empty: nothing to checkpoint yet (archive some mail first)")
    created_at = utcnow()
    tsa_url = "" if print_only else settings.ledger.tsa_url
    mail_to = () if print_only else tuple(settings.ledger.checkpoint_mail_to)
    stamp = tsa.stamp(tsa_url, tsa.imprint(head.entry_hash)) if tsa_url else None
    text = render(head, created_at, created_by, counts, stamp, tsa_url)
    if mail_to:
        send(settings, mail_to, head, text)
    with db.writing() as session:
        row = LedgerCheckpoint(
            seq=head.seq,
            entry_hash=head.entry_hash,
            created_at=created_at,
            created_by=created_by,
            mailed_to=", ".join(mail_to),
            tsa_url=tsa_url,
            tsa_token=stamp.token if stamp else None,
            tsa_time=stamp.time if stamp else None,
        )
        session.add(row)
        session.flush()  # assigns checkpoint_id, which the entry names
        payload: dict[str, Any] = {
            "seq": head.seq,
            "entry_hash": head.entry_hash,
            "created_by": created_by,
            "mailed_to": list(mail_to),
            "tsa_url": tsa_url,
        }
        chain.append(session, [Seal(EntryKind.CHECKPOINT, str(row.checkpoint_id), payload)], at=created_at)
        checkpoint_id = row.checkpoint_id
    return Taken(checkpoint_id, head, created_at, created_by, counts, mail_to, stamp, tsa_url, text)


def _count(session: Session, model: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def render(
    head: Head,
    created_at: datetime,
    created_by: str,
    counts: Counts,
    stamp: tsa.Stamp | None = None,
    tsa_url: str = "",
) -> str:
    """The checkpoint as text to keep: plain ASCII, so it survives any mail system unchanged."""
    lines = [
        "mailvault ledger checkpoint",
        "",
        f"host:        {socket.getfqdn()}",
        f"taken:       {created_at:%Y-%m-%d %H:%M:%S} UTC by {created_by}",
        f"entry:       {head.seq}",
        f"entry_hash:  {head.entry_hash}",
        f"archive:     {counts.messages} messages, {counts.arrivals} arrivals, "
        f"{counts.audit_events} audit events, {counts.stored_copies} stored copies",
    ]
    if stamp is not None:
        lines.append(
            f"time stamp:  {stamp.time:%Y-%m-%d %H:%M:%S} UTC by {tsa_url} (RFC 3161, serial {stamp.serial})"
        )
    lines += [
        "",
        "Keep this text outside the archive. To check later that the archive's history up to this",
        "entry has not been changed or rewritten since, run on the archive:",
        "",
        f"    mailvault verify --checkpoint {head.seq}:{head.entry_hash}",
        "",
        "(or save this text to a file and give the file to --checkpoint). Each ledger entry's hash",
        "commits to its contents and to the entry before it, so this one hash fixes every arrival",
        "and audit event up to entry " + str(head.seq) + ".",
    ]
    return "\n".join(lines) + "\n"


def send(settings: Settings, recipients: tuple[str, ...], head: Head, text: str) -> None:
    """Mail the checkpoint's text through [notify] smtp_server."""
    server = settings.notify.smtp_server
    host, _, port = server.strip().rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    sender = settings.notify.from_address or f"mailvault@{socket.getfqdn()}"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = f"mailvault ledger checkpoint: entry {head.seq} {head.entry_hash[:16]}"
    message["Date"] = format_datetime(datetime.now().astimezone())
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    # 7bit keeps the long `verify --checkpoint` line whole: quoted-printable would break the hash.
    message.set_content(text, cte="7bit" if text.isascii() else None)
    try:
        with smtplib.SMTP(host, int(port), timeout=SMTP_TIMEOUT) as smtp:
            refused = smtp.send_message(message, from_addr=sender, to_addrs=list(recipients))
    except smtplib.SMTPRecipientsRefused as exc:
        refusals = "; ".join(
            f"{rcpt}: {code} {reply.decode(errors='replace')}"
            for rcpt, (code, reply) in exc.recipients.items()
        )
        raise DeliveryError(f"{server} refused the checkpoint's recipients ({refusals})", 550) from exc
    except smtplib.SMTPResponseException as exc:
        reply = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        raise DeliveryError(
            f"cannot mail the checkpoint through {server}: {exc.smtp_code} {reply}; "
            "check [notify] smtp_server",
            exc.smtp_code,
        ) from exc
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        raise DeliveryError(
            f"cannot mail the checkpoint through {server} ({exc}); check [notify] smtp_server"
        ) from exc
    if refused:
        raise DeliveryError(f"{server} refused the checkpoint for {', '.join(sorted(refused))}", 550)


def recorded(db: Database) -> list[LedgerCheckpoint]:
    with db.reading() as session:
        rows = list(session.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.checkpoint_id)))
        session.expunge_all()
    return rows


def get(db: Database, checkpoint_id: int) -> LedgerCheckpoint:
    with db.reading() as session:
        row = session.get(LedgerCheckpoint, checkpoint_id)
        if row is None:
            raise MailvaultError(f"no checkpoint {checkpoint_id}; `mailvault ledger checkpoints` lists them")
        session.expunge(row)
    return row


def verify_stamp(settings: Settings, db: Database, checkpoint_id: int, ca_file: Path | None = None) -> str:
    """Check checkpoint `checkpoint_id`'s time stamp with openssl against [ledger] tsa_ca_file (or
    `ca_file`), and that the chain still holds the stamped hash; a one-line verdict."""
    row = get(db, checkpoint_id)
    if row.tsa_token is None:
        raise tsa.TimestampError(
            f"checkpoint {checkpoint_id} was not time-stamped (no [ledger] tsa_url then)"
        )
    ca = ca_file or settings.ledger.tsa_ca_file
    if ca is None:
        raise tsa.TimestampError(
            "set [ledger] tsa_ca_file to the time-stamping authority's CA certificate(s) "
            "to check the signature"
        )
    digest = tsa.imprint(row.entry_hash)
    stamp = tsa.check_token(row.tsa_token, digest, f"checkpoint {checkpoint_id}")
    tsa.verify(row.tsa_token, digest, ca)
    with db.reading() as session:
        now = session.scalar(select(LedgerEntry.entry_hash).where(LedgerEntry.seq == row.seq))
    if now != row.entry_hash:
        raise MailvaultError(
            f"checkpoint {checkpoint_id}'s time stamp is valid, but the chain no longer has its hash "
            f"at entry {row.seq}: the ledger was rewritten (run `mailvault verify`)"
        )
    return (
        f"checkpoint {checkpoint_id}: entry {row.seq}:{row.entry_hash} was stamped at "
        f"{stamp.time:%Y-%m-%d %H:%M:%S} UTC by {row.tsa_url or stamp.tsa}; the signature verifies against "
        f"{ca} and the chain still holds this hash"
    )
