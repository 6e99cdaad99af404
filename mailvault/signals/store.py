"""Reading and dismissing stored risk signals (the CLI and the web dashboard alike).

A dismissal is a judgement about evidence: it records who, when and why on the signal and, in
the same transaction, an audit event (Action.DISMISS_SIGNAL) sealed in the ledger. The signal
stays in the table, so a re-scan that finds the same evidence never raises it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from mailvault.access.audit import Action, Outcome
from mailvault.access.models import AuditEvent
from mailvault.access.scope import Scope
from mailvault.archive.arrival import utcnow
from mailvault.archive.db import Database
from mailvault.errors import MailvaultError
from mailvault.ledger import payloads
from mailvault.ledger.chain import EntryKind, Seal, append
from mailvault.signals.finding import SignalKind
from mailvault.signals.models import RiskSignal


class SignalError(MailvaultError):
    """A risk signal cannot be found or changed as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class SignalView:
    signal_id: int
    kind: str
    employee: str
    archive_ids: list[int]
    summary: str
    detail: dict[str, Any]
    occurred_at: datetime
    found_at: datetime
    notified_at: datetime | None
    dismissed_at: datetime | None
    dismissed_by: str | None
    dismiss_reason: str | None

    @property
    def dismissed(self) -> bool:
        return self.dismissed_at is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "signal_id": self.signal_id,
            "kind": self.kind,
            "employee": self.employee,
            "archive_ids": list(self.archive_ids),
            "summary": self.summary,
            "detail": dict(self.detail),
            "occurred_at": _iso(self.occurred_at),
            "found_at": _iso(self.found_at),
            "notified_at": _iso(self.notified_at),
            "dismissed_at": _iso(self.dismissed_at),
            "dismissed_by": self.dismissed_by,
            "dismiss_reason": self.dismiss_reason,
        }


def list_signals(
    db: Database,
    *,
    employee: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    include_dismissed: bool = False,
    scope: Scope | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[SignalView]:
    """Newest first (by when it happened). `scope` keeps the signals about employees a user may
    read (a manager: the employees and domains granted); None means all."""
    conditions: list[ColumnElement[bool]] = []
    if employee:
        conditions.append(RiskSignal.employee == employee.strip().lower())
    if kind:
        if kind not in set(SignalKind):
            raise SignalError(f"no signal kind is named {kind!r}; use one of: {', '.join(SignalKind)}")
        conditions.append(RiskSignal.kind == kind)
    if since is not None:
        conditions.append(RiskSignal.occurred_at >= since)
    if not include_dismissed:
        conditions.append(RiskSignal.dismissed_at.is_(None))
    if scope is not None and not scope.everything:
        conditions.append(scope_condition(scope))
    statement = (
        select(RiskSignal)
        .where(*conditions)
        .order_by(RiskSignal.occurred_at.desc(), RiskSignal.signal_id.desc())
        .offset(max(offset, 0))
    )
    if limit is not None:
        statement = statement.limit(max(limit, 0))
    with db.reading() as session:
        return [to_view(s) for s in session.scalars(statement)]


def get_signal(db: Database, signal_id: int) -> SignalView:
    with db.reading() as session:
        return to_view(_existing(session, signal_id))


def scope_condition(scope: Scope) -> ColumnElement[bool]:
    """Signals about an employee within `scope`: the address granted, or its domain (or a parent)."""
    if scope.everything:
        return RiskSignal.signal_id.is_not(None)
    matches: list[ColumnElement[bool]] = []
    if scope.employees:
        matches.append(RiskSignal.employee.in_(sorted(scope.employees)))
    for domain in sorted(scope.domains):
        matches += [RiskSignal.employee.endswith("@" + domain), RiskSignal.employee.endswith("." + domain)]
    return or_(*matches) if matches else false()


def covers(scope: Scope, employee: str) -> bool:
    """Whether `scope` may read the mail of `employee` (the test scope_condition makes in SQL)."""
    if scope.everything or employee in scope.employees:
        return True
    domain = employee.rpartition("@")[2]
    return any(domain == d or domain.endswith("." + d) for d in scope.domains)


def dismiss(db: Database, signal_id: int, by: str, reason: str, *, address: str = "") -> SignalView:
    """Mark a signal a false positive (or dealt with), audited in the same transaction."""
    reason = " ".join(reason.split())
    if not reason:
        raise SignalError("give a reason for dismissing the signal: it goes into the audit trail")
    with db.writing() as session:
        signal = _existing(session, signal_id)
        if signal.dismissed_at is not None:
            when = signal.dismissed_at.isoformat(sep=" ", timespec="minutes")
            raise SignalError(
                f"signal {signal_id} was dismissed already, on {when} UTC by {signal.dismissed_by}"
            )
        now = utcnow()
        signal.dismissed_at, signal.dismissed_by, signal.dismiss_reason = now, by, reason
        event = AuditEvent(
            at=now,
            username=by,
            action=Action.DISMISS_SIGNAL.value,
            outcome=Outcome.OK.value,
            target=f"signal {signal_id}",
            query="",
            address=address,
            detail={"kind": signal.kind, "employee": signal.employee, "reason": reason},
            count=len(signal.archive_ids or []),
        )
        session.add(event)
        session.flush()  # assigns event_id, which the seal names
        append(session, [Seal(EntryKind.AUDIT, str(event.event_id), payloads.audit_of(event))])
        return to_view(signal)


def _existing(session: Session, signal_id: int) -> RiskSignal:
    signal = session.get(RiskSignal, signal_id)
    if signal is None:
        raise SignalError(f"no risk signal has id {signal_id}; see `mailvault alerts --all`")
    return signal


def to_view(s: RiskSignal) -> SignalView:
    return SignalView(
        signal_id=s.signal_id,
        kind=s.kind,
        employee=s.employee,
        archive_ids=[int(i) for i in (s.archive_ids or [])],
        summary=s.summary,
        detail=dict(s.detail or {}),
        occurred_at=s.occurred_at,
        found_at=s.found_at,
        notified_at=s.notified_at,
        dismissed_at=s.dismissed_at,
        dismissed_by=s.dismissed_by,
        dismiss_reason=s.dismiss_reason,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None
