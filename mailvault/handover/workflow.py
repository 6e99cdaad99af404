"""The handover record and its steps that change something: open, secure, hand to a successor,
close. Each is audited; the read-only steps are reconcile.py and customers.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailvault.access import audit, users
from mailvault.access.audit import Action
from mailvault.access.models import GrantKind, UserRole
from mailvault.archive.arrival import utcnow
from mailvault.archive.db import Database
from mailvault.archive.models import ImapAccount
from mailvault.errors import MailvaultError
from mailvault.handover.models import Handover


class HandoverError(MailvaultError):
    """A handover step that cannot be done as asked."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


@dataclass(frozen=True, slots=True)
class AccountProgress:
    """Securing one mailbox: asked for at `requested_at`, done when a sync ended after it."""

    name: str
    registered: bool
    requested_at: datetime | None
    last_sync_at: datetime | None
    last_error: str | None

    @property
    def secured(self) -> bool:
        return (
            self.requested_at is not None
            and self.last_sync_at is not None
            and self.last_sync_at >= self.requested_at
            and not self.last_error
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.name,
            "registered": self.registered,
            "requested_at": _iso(self.requested_at),
            "last_sync_at": _iso(self.last_sync_at),
            "last_error": self.last_error,
            "secured": self.secured,
        }


@dataclass(frozen=True, slots=True)
class HandoverState:
    handover_id: int
    employee: str
    opened_at: datetime
    opened_by: str
    secured_at: datetime | None
    secured_by: str | None
    successor: str | None
    granted_at: datetime | None
    granted_by: str | None
    closed_at: datetime | None
    accounts: tuple[AccountProgress, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "handover": self.handover_id,
            "employee": self.employee,
            "opened_at": _iso(self.opened_at),
            "opened_by": self.opened_by,
            "secure_requested_at": _iso(self.secured_at),
            "secure_requested_by": self.secured_by,
            "successor": self.successor,
            "granted_at": _iso(self.granted_at),
            "granted_by": self.granted_by,
            "closed_at": _iso(self.closed_at),
            "accounts": [a.as_dict() for a in self.accounts],
        }


def open_handover(db: Database, employee: str, *, by: str, address: str = "") -> HandoverState:
    """The employee's handover in progress, opened now if there is none."""
    employee = _address(employee)
    with db.writing() as session:
        row = _current(session, employee)
        opened = row is None
        if row is None:
            row = Handover(employee=employee, opened_at=utcnow(), opened_by=by)
            session.add(row)
            session.flush()
    if opened:
        audit.record(
            db, username=by, action=Action.HANDOVER, address=address, target=employee, detail={"step": "open"}
        )
    return state(db, employee)


def state(db: Database, employee: str) -> HandoverState:
    employee = _address(employee)
    with db.reading() as session:
        row = _current(session, employee)
        if row is None:
            raise HandoverError(f"no handover is open for {employee}; open one first")
        accounts = session.scalars(
            select(ImapAccount).where(ImapAccount.owner == employee).order_by(ImapAccount.name)
        )
        progress = tuple(
            AccountProgress(a.name, a.registered, a.sync_requested_at, a.last_sync_at, a.last_error)
            for a in accounts
        )
        return HandoverState(
            row.handover_id,
            row.employee,
            row.opened_at,
            row.opened_by,
            row.secured_at,
            row.secured_by,
            row.successor,
            row.granted_at,
            row.granted_by,
            row.closed_at,
            progress,
        )


def request_secure(db: Database, employee: str, *, by: str, address: str = "") -> list[str]:
    """Step 1: ask for a sync now of every registered mailbox of the employee (the sync worker of
    `mailvault serve`, or the caller, runs it). Returns the accounts asked for; an employee whose
    mailboxes are not registered cannot be secured from here."""
    employee = _address(employee)
    now = utcnow()
    with db.writing() as session:
        row = _current(session, employee)
        if row is None:
            raise HandoverError(f"no handover is open for {employee}; open one first")
        accounts = session.scalars(
            select(ImapAccount).where(ImapAccount.owner == employee, ImapAccount.registered.is_(True))
        ).all()
        if not accounts:
            raise HandoverError(
                f"{employee} has no registered mailbox; register it (`mailvault accounts add` or the "
                "Mailboxes page) so it can be imported"
            )
        for account in accounts:
            account.sync_requested_at = now
            account.sync_requested_by = by
        row.secured_at, row.secured_by = now, by
        names = [a.name for a in accounts]
    audit.record(
        db,
        username=by,
        action=Action.HANDOVER,
        address=address,
        target=employee,
        detail={"step": "secure", "accounts": names},
    )
    return names


def grant_successor(
    db: Database, employee: str, successor: str, customers: list[str], *, by: str, address: str = ""
) -> int:
    """Step 4: the successor may read the employee's mail with these customers (domains or, for
    free mail, addresses). Returns the grants added."""
    employee = _address(employee)
    if not customers:
        raise HandoverError("choose at least one customer to hand over")
    info = users.get_named(db, successor)
    if info.role not in (UserRole.MANAGER, UserRole.EMPLOYEE):
        raise HandoverError(f"{info.username} is {info.role}: a successor is a manager or an employee")
    if info.email == employee:
        raise HandoverError("the successor cannot be the departing employee")
    existing = {v for k, v in info.grants if k == GrantKind.HANDOVER}
    added = 0
    for customer in customers:
        value = f"{employee} {customer.strip().lower()}"
        if value not in existing:
            users.grant(db, info.username, GrantKind.HANDOVER, value, by=by)
            added += 1
    with db.writing() as session:
        row = _current(session, employee)
        if row is None:
            raise HandoverError(f"no handover is open for {employee}; open one first")
        row.successor, row.granted_at, row.granted_by = info.username, utcnow(), by
    audit.record(
        db,
        username=by,
        action=Action.GRANT_SUCCESSOR,
        address=address,
        target=employee,
        count=len(customers),
        detail={"successor": info.username, "customers": sorted(customers), "added": added},
    )
    return added


def close_handover(db: Database, employee: str, *, by: str, address: str = "") -> None:
    employee = _address(employee)
    with db.writing() as session:
        row = _current(session, employee)
        if row is None:
            raise HandoverError(f"no handover is open for {employee}")
        row.closed_at, row.closed_by = utcnow(), by
    audit.record(
        db, username=by, action=Action.HANDOVER, address=address, target=employee, detail={"step": "close"}
    )


def handovers(db: Database) -> list[Handover]:
    with db.reading() as session:
        rows = list(session.scalars(select(Handover).order_by(Handover.opened_at.desc())))
        session.expunge_all()
        return rows


def _current(session: Session, employee: str) -> Handover | None:
    return session.scalars(
        select(Handover)
        .where(Handover.employee == employee, Handover.closed_at.is_(None))
        .order_by(Handover.handover_id.desc())
        .limit(1)
    ).first()


def _address(employee: str) -> str:
    employee = employee.strip().lower()
    if "@" not in employee:
        raise HandoverError(f"{employee!r} is not a mail address: a handover names the employee's address")
    return employee
