"""Seal the rows written before the ledger existed: run `mailvault ledger seal` once after
upgrading an archive to schema 0005. From then on every arrival and audit event is sealed as it
is written, so running it again finds nothing to do (and does nothing).

Arrivals are sealed in source_id order, audit events in event_id order, a chunk per transaction;
the earliest arrival of each message seals the message with it, as ingest does for new mail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import String, cast, exists, func, select
from sqlalchemy.orm import Session

from mailvault.access.models import AuditEvent
from mailvault.archive.db import Database
from mailvault.archive.models import Message, Source
from mailvault.ledger import payloads
from mailvault.ledger.chain import EntryKind, Seal, append
from mailvault.ledger.models import LedgerEntry

log = logging.getLogger(__name__)

_IN = 500  # values per IN (…): under SQLite's bound-parameter limit


def seal_unsealed(db: Database, *, chunk: int = 1000) -> int:
    """Append an entry for every sources row and audit event the ledger does not know; how many."""
    arrivals = _seal_in_chunks(db, Source, Source.source_id, _arrival_sealed(), _arrival_seals, chunk)
    events = _seal_in_chunks(
        db,
        AuditEvent,
        AuditEvent.event_id,
        _event_sealed(),
        lambda _session, rows: [Seal(EntryKind.AUDIT, str(e.event_id), payloads.audit_of(e)) for e in rows],
        chunk,
    )
    return arrivals + events


def _seal_in_chunks(
    db: Database,
    model: Any,
    key: Any,
    sealed: Any,
    to_seals: Callable[[Session, Sequence[Any]], list[Seal]],
    chunk: int,
) -> int:
    """Seal the unsealed rows of `model` in `key` order, a transaction per chunk (interruptible)."""
    done, last = 0, 0
    while True:
        with db.writing() as session:
            rows = list(session.scalars(select(model).where(key > last, ~sealed).order_by(key).limit(chunk)))
            if not rows:
                return done
            append(session, to_seals(session, rows))
        done += len(rows)
        last = getattr(rows[-1], key.key)
        log.info("sealed %d %s (up to id %d)", done, model.__tablename__, last)


def count_unsealed(db: Database) -> tuple[int, int]:
    """(sources rows, audit events) the ledger does not know."""
    with db.reading() as session:
        sources = session.scalar(select(func.count()).select_from(Source).where(~_arrival_sealed()))
        events = session.scalar(select(func.count()).select_from(AuditEvent).where(~_event_sealed()))
    return int(sources or 0), int(events or 0)


def _arrival_sealed() -> Any:
    return exists().where(LedgerEntry.kind == EntryKind.ARRIVAL.value, LedgerEntry.ref == Source.source_key)


def _event_sealed() -> Any:
    return exists().where(
        LedgerEntry.kind == EntryKind.AUDIT.value, LedgerEntry.ref == cast(AuditEvent.event_id, String)
    )


def _arrival_seals(session: Session, sources: Sequence[Source]) -> list[Seal]:
    """A seal per arrival; the message goes with its earliest arrival, when that is one of these."""
    archive_ids = sorted({s.archive_id for s in sources})
    first: dict[int, int] = {}
    messages: dict[int, Message] = {}
    for start in range(0, len(archive_ids), _IN):
        ids = archive_ids[start : start + _IN]
        first.update(
            (archive_id, source_id)
            for archive_id, source_id in session.execute(
                select(Source.archive_id, func.min(Source.source_id))
                .where(Source.archive_id.in_(ids))
                .group_by(Source.archive_id)
            )
        )
        messages.update(
            {m.archive_id: m for m in session.scalars(select(Message).where(Message.archive_id.in_(ids)))}
        )
    seals: list[Seal] = []
    for source in sources:
        message = (
            messages.get(source.archive_id) if first.get(source.archive_id) == source.source_id else None
        )
        seals.append(Seal(EntryKind.ARRIVAL, source.source_key, payloads.arrival_of(source, message)))
    return seals
