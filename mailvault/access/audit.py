"""The audit trail: every sign-in, search, view, download and export, with who, when and from
where. Written in the same request that serves the data; if it cannot be written, the data is
not served. Only ever appended to (the database enforces it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailvault.access.models import AuditEvent
from mailvault.archive.arrival import utcnow
from mailvault.archive.db import Database
from mailvault.ledger import payloads
from mailvault.ledger.chain import EntryKind, Seal, append


class Action(StrEnum):
    SIGN_IN = "sign-in"
    SIGN_OUT = "sign-out"
    SEARCH = "search"
    VIEW_MESSAGE = "view-message"
    VIEW_THREAD = "view-thread"
    VIEW_RAW = "view-raw"
    VIEW_CUSTOMER = "view-customer"
    LIST_CUSTOMERS = "list-customers"
    DOWNLOAD = "download"
    EXPORT = "export"
    VIEW_AUDIT = "view-audit"
    USER_CHANGE = "user-change"
    DENIED = "denied"
    VIEW_SIGNALS = "view-signals"
    DISMISS_SIGNAL = "dismiss-signal"
    HANDOVER = "handover"  # opened, secured, closed
    GRANT_SUCCESSOR = "grant-successor"
    EVIDENCE = "evidence"  # an evidence package built and handed over
    RETENTION_CHANGE = "retention-change"
    HOLD_CHANGE = "hold-change"
    PURGE = "purge"
    CHECKPOINT = "checkpoint"


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AuditFilter:
    username: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""  # in the target or query


def record(
    db: Database,
    *,
    username: str,
    action: Action,
    address: str,
    outcome: Outcome = Outcome.OK,
    target: str = "",
    query: str = "",
    count: int = 0,
    detail: dict[str, Any] | None = None,
) -> None:
    with db.writing() as session:
        record_in(
            session,
            username=username,
            action=action,
            address=address,
            outcome=outcome,
            target=target,
            query=query,
            count=count,
            detail=detail,
        )


def record_in(
    session: Session,
    *,
    username: str,
    action: Action,
    address: str,
    outcome: Outcome = Outcome.OK,
    target: str = "",
    query: str = "",
    count: int = 0,
    detail: dict[str, Any] | None = None,
) -> None:
    """The audit event (and its ledger entry) in the caller's write transaction, so that a change
    and its record commit together or not at all."""
    event = AuditEvent(
        at=utcnow(),
        username=username,
        action=action.value,
        outcome=outcome.value,
        target=target,
        query=query,
        address=address,
        detail=detail or {},
        count=count,
    )
    session.add(event)
    session.flush()  # assigns event_id, which the seal names
    append(session, [Seal(EntryKind.AUDIT, str(event.event_id), payloads.audit_of(event))])


def events(
    db: Database, where: AuditFilter, *, offset: int = 0, limit: int = 50
) -> tuple[int, list[AuditEvent]]:
    """Newest first; the total that match beside one page of them."""
    conditions = []
    if where.username:
        conditions.append(AuditEvent.username == where.username.strip().lower())
    if where.action:
        conditions.append(AuditEvent.action == where.action)
    if where.since:
        conditions.append(AuditEvent.at >= where.since)
    if where.until:
        conditions.append(AuditEvent.at < where.until)
    if where.text:
        pattern = f"%{where.text}%"
        conditions.append(AuditEvent.target.like(pattern) | AuditEvent.query.like(pattern))
    with db.reading() as session:
        total = session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
        rows = session.scalars(
            select(AuditEvent)
            .where(*conditions)
            .order_by(AuditEvent.event_id.desc())
            .offset(offset)
            .limit(limit)
        )
        found = list(rows)
        session.expunge_all()
        return total, found
