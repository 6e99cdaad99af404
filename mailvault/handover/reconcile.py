"""Step 2 of a handover: what the archive holds of the employee's mail against what is still in
their mailboxes, and what they deleted or moved there.

A message is "in a mailbox now" when one of its IMAP locations in the employee's accounts has not
vanished. It was deleted when all of its locations there vanished as deleted (the sync looked in
every folder); the time given is when a sync noticed it missing: the deletion happened between
the sync that last saw it and then. Deleted mail stays archived and readable.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailvault.archive.models import ImapAccount, Message, Source, SourceKind, VanishedHow
from mailvault.handover.mail import message_ids, rows_for

REMOVALS_SHOWN = 1000  # a page of the report; the counts cover all


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


@dataclass(frozen=True, slots=True)
class Mailbox:
    name: str
    registered: bool
    last_sync_at: datetime | None
    last_error: str | None
    stopped: bool
    in_mailbox: int  # messages with a location there now
    deleted: int
    moved: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.name,
            "registered": self.registered,
            "last_sync_at": _iso(self.last_sync_at),
            "last_error": self.last_error,
            "stopped": self.stopped,
            "in_mailbox": self.in_mailbox,
            "deleted": self.deleted,
            "moved": self.moved,
        }


@dataclass(frozen=True, slots=True)
class Removal:
    archive_id: int
    subject: str
    date: datetime | None
    account: str
    folder: str
    how: str  # deleted or moved
    noticed_at: datetime | None
    moved_to: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "message": self.archive_id,
            "subject": self.subject,
            "date": _iso(self.date),
            "account": self.account,
            "folder": self.folder,
            "how": self.how,
            "noticed_at": _iso(self.noticed_at),
            "moved_to": self.moved_to,
        }


@dataclass(slots=True)
class Reconciliation:
    employee: str
    archived: int = 0  # every message of the employee's the archive holds
    by_gateway: int = 0  # journaled by the SMTP gateway
    by_import: int = 0  # imported from a mailbox or a file
    in_mailboxes: int = 0  # still in one of their mailboxes at the last sync
    deleted: int = 0  # messages gone from every folder of the mailbox
    moved: int = 0  # locations moved to another folder
    mailboxes: list[Mailbox] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)  # deleted first, newest noticed first

    @property
    def only_in_archive(self) -> int:
        """Held by the archive, in no mailbox of theirs: deleted there, or never imported."""
        return self.archived - self.in_mailboxes

    def as_dict(self) -> dict[str, Any]:
        return {
            "employee": self.employee,
            "archived": self.archived,
            "by_gateway": self.by_gateway,
            "by_import": self.by_import,
            "in_mailboxes": self.in_mailboxes,
            "only_in_archive": self.only_in_archive,
            "deleted": self.deleted,
            "moved": self.moved,
            "mailboxes": [m.as_dict() for m in self.mailboxes],
            "removals": [r.as_dict() for r in self.removals],
        }


def reconcile(session: Session, employee: str) -> Reconciliation:
    employee = employee.strip().lower()
    result = Reconciliation(employee)
    ids = message_ids(session, employee)
    result.archived = len(ids)
    kinds: dict[int, set[str]] = defaultdict(set)
    for archive_id, kind in rows_for(session, ids, Source.archive_id, Source.kind):
        kinds[archive_id].add(kind)
    result.by_gateway = sum(1 for k in kinds.values() if SourceKind.SMTP.value in k)
    result.by_import = sum(1 for k in kinds.values() if k & {SourceKind.IMAP.value, SourceKind.FILE.value})

    accounts = session.scalars(select(ImapAccount).where(ImapAccount.owner == employee)).all()
    names = [a.name for a in accounts]
    locations = session.execute(
        select(
            Source.archive_id,
            Source.origin,
            Source.folder,
            Source.vanished_at,
            Source.vanished_how,
            Source.moved_to,
        ).where(Source.kind == SourceKind.IMAP.value, Source.origin.in_(names))
    ).all()
    present: dict[str, set[int]] = defaultdict(set)
    gone: dict[int, list[Any]] = defaultdict(list)
    for row in locations:
        if row.vanished_at is None:
            present[row.origin].add(row.archive_id)
        elif row.vanished_how in (VanishedHow.DELETED.value, VanishedHow.MOVED.value):
            gone[row.archive_id].append(row)
    anywhere = set().union(*present.values()) if present else set()
    result.in_mailboxes = len(anywhere)

    removals: list[Removal] = []
    per_account: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
    subjects = {
        r.archive_id: (r.subject, r.date)
        for r in rows_for(session, sorted(gone), Message.archive_id, Message.subject, Message.date)
    }
    for archive_id, rows in gone.items():
        deleted = archive_id not in anywhere and any(
            r.vanished_how == VanishedHow.DELETED.value for r in rows
        )
        for row in rows:
            how = row.vanished_how
            if how == VanishedHow.DELETED.value and not deleted:
                continue  # gone from one folder but still in another: not deleted
            d, m = per_account[row.origin]
            per_account[row.origin] = (
                d + (how == VanishedHow.DELETED.value),
                m + (how == VanishedHow.MOVED.value),
            )
            subject, date = subjects.get(archive_id, ("", None))
            removals.append(
                Removal(archive_id, subject, date, row.origin, row.folder, how, row.vanished_at, row.moved_to)
            )
        if deleted:
            result.deleted += 1
    result.moved = sum(1 for r in removals if r.how == VanishedHow.MOVED.value)
    removals.sort(key=lambda r: r.noticed_at or datetime.min, reverse=True)
    removals.sort(key=lambda r: r.how != VanishedHow.DELETED.value)  # stable: deleted first
    result.removals = removals[:REMOVALS_SHOWN]
    result.mailboxes = [
        Mailbox(
            a.name,
            a.registered,
            a.last_sync_at,
            a.last_error,
            a.stopped_at is not None,
            len(present.get(a.name, ())),
            *per_account.get(a.name, (0, 0)),
        )
        for a in accounts
    ]
    return result
