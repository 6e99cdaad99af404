"""The database side of IMAP import: accounts, folder epochs and their checkpoints, locations.

A folder's epoch is its UIDVALIDITY: UIDs mean something only within one. The checkpoint is the
highest UID up to which every message is archived and durable (failed UIDs aside, which are kept
with their reason and retried). It only moves after the ingest that stored those messages has
returned, so a crash or a cut connection makes the next run fetch them again, and ingest knows
each (account, folder, UIDVALIDITY, UID) it has recorded: nothing is archived twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailvault.archive.arrival import utcnow
from mailvault.archive.db import Database
from mailvault.archive.models import Blob, ImapAccount, ImapFolder, Message, Source, SourceKind, VanishedHow


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """How to reach one mailbox, and whose it is."""

    host: str
    port: int
    security: str
    username: str
    owner: str
    provider: str | None = None
    connections: int = 2

    @property
    def name(self) -> str:
        """The account's name, and the `origin` of every message imported from it."""
        return f"{self.username}@{self.host}" if "@" not in self.username else f"{self.username}/{self.host}"


@dataclass(frozen=True, slots=True)
class Epoch:
    folder_id: int
    name: str
    display: str
    uidvalidity: int
    checkpoint_uid: int
    failed: dict[int, str]


def account_row(db: Database, spec: AccountSpec) -> int:
    """The account's id, creating its row on the first import (its connection details updated)."""
    with db.writing() as session:
        account = session.scalar(select(ImapAccount).where(ImapAccount.name == spec.name))
        if account is None:
            account = ImapAccount(name=spec.name, created_at=utcnow(), registered=False)
            session.add(account)
        account.host, account.port, account.security = spec.host, spec.port, spec.security
        account.username, account.owner = spec.username, spec.owner.lower()
        account.provider, account.connections = spec.provider, spec.connections
        account.interval_seconds = account.interval_seconds or 3600
        session.flush()
        return account.account_id


def epoch_for(db: Database, account_id: int, origin: str, name: str, display: str, uidvalidity: int) -> Epoch:
    """The folder's epoch for this UIDVALIDITY. A different one ends the folder's earlier epochs:
    their locations are marked renumbered (the messages stay; the new epoch records them again)."""
    now = utcnow()
    with db.writing() as session:
        row = session.scalar(
            select(ImapFolder).where(
                ImapFolder.account_id == account_id,
                ImapFolder.name == name,
                ImapFolder.uidvalidity == uidvalidity,
            )
        )
        if row is None:
            ended = session.scalars(
                select(ImapFolder).where(
                    ImapFolder.account_id == account_id,
                    ImapFolder.name == name,
                    ImapFolder.ended_at.is_(None),
                )
            ).all()
            for old in ended:
                old.ended_at = now
                _vanish_epoch(session, origin, old.display, old.uidvalidity, VanishedHow.RENUMBERED, now)
            row = ImapFolder(
                account_id=account_id,
                name=name,
                display=display,
                uidvalidity=uidvalidity,
                checkpoint_uid=0,
                failed={},
                messages=0,
                started_at=now,
            )
            session.add(row)
            session.flush()
        elif row.ended_at is not None:
            row.ended_at = None  # the folder came back under its old UIDVALIDITY
        return Epoch(
            row.folder_id,
            row.name,
            row.display,
            row.uidvalidity,
            row.checkpoint_uid,
            {int(uid): reason for uid, reason in (row.failed or {}).items()},
        )


def _vanish_epoch(
    session: Session, origin: str, folder: str, uidvalidity: int, how: VanishedHow, when: datetime
) -> None:
    session.execute(
        update(Source)
        .where(
            Source.kind == SourceKind.IMAP.value,
            Source.origin == origin,
            Source.folder == folder,
            Source.uidvalidity == uidvalidity,
            Source.vanished_at.is_(None),
        )
        .values(vanished_at=when, vanished_how=how.value)
    )


def advance(
    db: Database, folder_id: int, checkpoint_uid: int, failed: dict[int, str], cleared: Iterable[int]
) -> None:
    """Record that every UID up to `checkpoint_uid` is durable, except `failed` (kept with their
    reasons); `cleared` are earlier failures that have now been archived."""
    with db.writing() as session:
        row = session.get(ImapFolder, folder_id)
        if row is None:
            return
        row.checkpoint_uid = max(row.checkpoint_uid, checkpoint_uid)
        merged = {int(uid): reason for uid, reason in (row.failed or {}).items()}
        for uid in cleared:
            merged.pop(uid, None)
        merged.update(failed)
        row.failed = {str(uid): reason for uid, reason in sorted(merged.items())}


def present_locations(db: Database, origin: str, folder: str, uidvalidity: int) -> dict[int, int]:
    """UID -> source id of the locations recorded in this folder epoch and not vanished."""
    with db.reading() as session:
        rows = session.execute(
            select(Source.uid, Source.source_id).where(
                Source.kind == SourceKind.IMAP.value,
                Source.origin == origin,
                Source.folder == folder,
                Source.uidvalidity == uidvalidity,
                Source.vanished_at.is_(None),
            )
        )
        return {uid: source_id for uid, source_id in rows if uid is not None}


def record_vanished(db: Database, origin: str, source_ids: Iterable[int], *, final: bool) -> tuple[int, int]:
    """Mark these locations vanished: moved when their message is present in another folder of
    the account, deleted otherwise. With `final` False (some folder could not be read this run)
    only moves are recorded; the rest wait for a complete sync. Returns (moved, deleted)."""
    ids = sorted(set(source_ids))
    if not ids:
        return 0, 0
    now = utcnow()
    moved = deleted = 0
    with db.writing() as session:
        vanished = session.scalars(select(Source).where(Source.source_id.in_(ids))).all()
        messages = {s.archive_id for s in vanished}
        elsewhere: dict[int, str] = {}
        for archive_id, folder in session.execute(
            select(Source.archive_id, Source.folder).where(
                Source.kind == SourceKind.IMAP.value,
                Source.origin == origin,
                Source.archive_id.in_(messages),
                Source.vanished_at.is_(None),
                Source.source_id.not_in(ids),
            )
        ):
            elsewhere.setdefault(archive_id, folder)
        for source in vanished:
            target = elsewhere.get(source.archive_id)
            if target is not None and target != source.folder:
                source.vanished_at, source.vanished_how, source.moved_to = (
                    now,
                    VanishedHow.MOVED.value,
                    target,
                )
                moved += 1
            elif final:
                source.vanished_at, source.vanished_how = now, VanishedHow.DELETED.value
                deleted += 1
    return moved, deleted


def folder_synced(db: Database, folder_id: int, messages: int) -> None:
    with db.writing() as session:
        row = session.get(ImapFolder, folder_id)
        if row is not None:
            row.messages, row.synced_at = messages, utcnow()


def open_epochs(db: Database, account_id: int) -> list[Epoch]:
    with db.reading() as session:
        rows = session.scalars(
            select(ImapFolder).where(ImapFolder.account_id == account_id, ImapFolder.ended_at.is_(None))
        ).all()
        return [Epoch(r.folder_id, r.name, r.display, r.uidvalidity, r.checkpoint_uid, {}) for r in rows]


def end_epoch(db: Database, folder_id: int) -> None:
    """The folder is gone from the server (its locations are handled by record_vanished)."""
    with db.writing() as session:
        row = session.get(ImapFolder, folder_id)
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()


def account_synced(db: Database, account_id: int, error: str | None, *, stop: bool = False) -> None:
    with db.writing() as session:
        account = session.get(ImapAccount, account_id)
        if account is None:
            return
        account.last_sync_at = utcnow()
        account.last_error = error
        account.stopped_at = utcnow() if stop else None


def stored_copies(
    db: Database, origin: str, identities: dict[int, tuple[str, int, str] | None]
) -> dict[int, str]:
    """UID -> sha256 of a copy imported from this account before with the same Message-ID, size
    and INTERNALDATE (bytes the archive holds: no need to download them again)."""
    wanted = {uid: key for uid, key in identities.items() if key is not None}
    if not wanted:
        return {}
    found: dict[tuple[str, int, str], str] = {}
    with db.reading() as session:
        rows = session.execute(
            select(Message.message_id, Blob.size, Source.detail, Source.sha256)
            .join(Blob, Blob.sha256 == Source.sha256)
            .join(Message, Message.archive_id == Source.archive_id)
            .where(
                Source.kind == SourceKind.IMAP.value,
                Source.origin == origin,
                Message.message_id.in_({key[0] for key in wanted.values()}),
            )
        )
        for message_id, size, detail, sha256 in rows:
            internaldate = (detail or {}).get("internaldate")
            if message_id and internaldate:
                found.setdefault((message_id, size, internaldate), sha256)
    return {uid: found[key] for uid, key in wanted.items() if key in found}
