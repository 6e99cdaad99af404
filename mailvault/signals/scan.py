"""Runs every detector once over what is new in the archive and stores what they find.

Incremental: each detector keeps its position in detector_progress (the last archive id it has
examined, or for mass_deletion the last vanish time) and starts after it next time. Idempotent:
a finding's key is derived from its evidence and risk_signals.finding_key is unique, so a replay
after a crash, or a second look at the same messages, adds nothing (a dismissed signal is never
raised again). A batch's findings and the position after it are written in one transaction.

Safe beside ingest. On PostgreSQL archive ids come from a sequence when a row is inserted, but
become visible when its transaction commits, which can be after a higher id's: a message below
the position could appear later. So a position only passes messages archived at least `settle`
(SETTLE, ten minutes) ago; younger ones are examined now and again at the next scan, which their
finding keys make harmless. Memory is bounded by the batch size, whatever the archive's size.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailvault.archive.arrival import utcnow
from mailvault.archive.blobs import LocalBlobStore
from mailvault.archive.db import Database
from mailvault.archive.models import Message
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.signals.deletions import detect_mass_deletion
from mailvault.signals.facts import Context, MessageFacts, load_facts
from mailvault.signals.finding import Finding, SignalKind
from mailvault.signals.forwarding import detect_bulk_forwarding, detect_forward_to_personal
from mailvault.signals.models import DetectorProgress, RiskSignal
from mailvault.signals.payment import CompanyAccounts, detect_payment_details
from mailvault.signals.personal import detect_personal_first_contact, known_personal, revisit

log = logging.getLogger(__name__)

SETTLE = timedelta(minutes=10)
BATCH = 200
_EPOCH = datetime(1970, 1, 1)
_LEARNED = "personal_learned"  # the last forward_to_personal signal personal_first_contact has read

Detect = Callable[[Context, Session, list[MessageFacts]], list[Finding]]


def _personal(ctx: Context, session: Session, batch: list[MessageFacts]) -> list[Finding]:
    return detect_personal_first_contact(ctx, session, batch, known_personal(session))


# In this order: personal_first_contact learns personal addresses from forward_to_personal.
MESSAGE_DETECTORS: list[tuple[SignalKind, Detect]] = [
    (SignalKind.FORWARD_TO_PERSONAL, detect_forward_to_personal),
    (SignalKind.BULK_FORWARDING, detect_bulk_forwarding),
    (SignalKind.PAYMENT_DETAILS, detect_payment_details),
    (SignalKind.PERSONAL_FIRST_CONTACT, _personal),
]


@dataclass
class ScanResult:
    found: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in SignalKind})  # new signals
    examined: dict[str, int] = field(default_factory=dict)  # messages (or locations) per detector
    off: list[str] = field(default_factory=list)  # detectors that could not run, and why
    notified: int = 0  # signals e-mailed
    notify_failed: int = 0  # signals whose mail failed (retried next scan)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.found.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "found": dict(self.found),
            "total": self.total,
            "examined": dict(self.examined),
            "off": list(self.off),
            "notified": self.notified,
            "notify_failed": self.notify_failed,
        }


def scan(
    archive_or_db: Archive | Database,
    settings: Settings,
    *,
    settle: timedelta = SETTLE,
    batch_size: int = BATCH,
    notify: bool | None = None,
) -> ScanResult:
    """Run every detector over what is new; e-mail new signals when [signals] notify_managers
    (or `notify`) says so. Blocking: a worker runs it in a thread."""
    started = time.monotonic()
    if isinstance(archive_or_db, Archive):
        db, blobs, own_blobs = archive_or_db.db, archive_or_db.blobs, False
    else:
        db = archive_or_db
        blobs = LocalBlobStore(settings.archive.resolved_blob_dir, settings.archive.compression_level)
        own_blobs = True
    try:
        ctx = Context(settings, blobs)
        result = ScanResult()
        now = utcnow()
        for kind, detect in MESSAGE_DETECTORS:
            if kind is SignalKind.PAYMENT_DETAILS and not CompanyAccounts(
                settings.signals.company_bank_accounts
            ):
                result.off.append(f"{kind.value}: [signals] company_bank_accounts is empty")
                continue  # its position stays: once accounts are listed, all mail is looked at
            _scan_messages(db, ctx, kind, detect, now - settle, batch_size, result)
        _revisit_learned(db, ctx, result)
        _scan_vanished(db, ctx, now - settle, result)
        if settings.signals.notify_managers if notify is None else notify:
            from mailvault.signals.notify import notify_new

            result.notified, result.notify_failed = notify_new(db, settings)
    finally:
        if own_blobs:
            blobs.close()
    result.seconds = time.monotonic() - started
    log.info(
        "signals scan: new=%d (%s) notified=%d notify_failed=%d ms=%.0f",
        result.total,
        " ".join(f"{k}={v}" for k, v in result.found.items() if v) or "-",
        result.notified,
        result.notify_failed,
        result.seconds * 1000,
    )
    return result


def _scan_messages(
    db: Database,
    ctx: Context,
    kind: SignalKind,
    detect: Detect,
    settled_before: datetime,
    batch_size: int,
    result: ScanResult,
) -> None:
    with db.reading() as session:
        position = _position(session, kind.value)
    after, blocked = position, False
    while True:
        with db.reading() as session:
            rows = session.execute(
                select(Message.archive_id, Message.archived_at)
                .where(Message.archive_id > after)
                .order_by(Message.archive_id)
                .limit(batch_size)
            ).all()
            if not rows:
                return
            findings = detect(ctx, session, load_facts(session, [r.archive_id for r in rows]))
        ctx.forget_texts()
        # The position passes only settled messages, and never one above an unsettled message.
        for archive_id, archived_at in rows:
            if blocked or archived_at > settled_before:
                blocked = True
                break
            position = archive_id
        with db.writing() as session:
            _store(session, findings, result)
            _save(session, kind.value, position)
        result.examined[kind.value] = result.examined.get(kind.value, 0) + len(rows)
        after = rows[-1].archive_id


def _revisit_learned(db: Database, ctx: Context, result: ScanResult) -> None:
    """Personal addresses learned since the last scan: their earlier mail, looked at again."""
    with db.reading() as session:
        seen = _position(session, _LEARNED)
        last = session.scalar(
            select(func.max(RiskSignal.signal_id)).where(
                RiskSignal.kind == SignalKind.FORWARD_TO_PERSONAL.value
            )
        )
        if last is None or last <= seen:
            return
        known = known_personal(session)
        learned = {a: e for a, e in known_personal(session, after_signal=seen).items() if known.get(a) == e}
        findings = revisit(ctx, session, learned, known)
    ctx.forget_texts()
    with db.writing() as session:
        _store(session, findings, result)
        _save(session, _LEARNED, last)


def _scan_vanished(db: Database, ctx: Context, settled_before: datetime, result: ScanResult) -> None:
    name = SignalKind.MASS_DELETION.value
    with db.reading() as session:
        position = _position(session, name)
        since = _EPOCH + timedelta(microseconds=position)
        findings, latest = detect_mass_deletion(ctx, session, since)
    if latest is None:
        return
    until = min(latest, settled_before)
    with db.writing() as session:
        _store(session, findings, result)
        _save(session, name, max(position, (until - _EPOCH) // timedelta(microseconds=1)))
    result.examined[name] = result.examined.get(name, 0) + 1


def _position(session: Session, detector: str) -> int:
    row = session.get(DetectorProgress, detector)
    return row.position if row is not None else 0


def _save(session: Session, detector: str, position: int) -> None:
    row = session.get(DetectorProgress, detector)
    if row is None:
        session.add(DetectorProgress(detector=detector, position=position, updated_at=utcnow()))
    elif position > row.position:
        row.position, row.updated_at = position, utcnow()


def _store(session: Session, findings: list[Finding], result: ScanResult) -> None:
    """Insert the findings whose key is new; a known key (even of a dismissed signal) adds nothing."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    for f in findings:
        statement = (
            dialect.insert(RiskSignal)
            .values(
                kind=f.kind.value,
                employee=f.employee.lower(),
                finding_key=f.finding_key,
                archive_ids=f.archive_ids,
                summary=f.summary,
                detail=f.detail,
                occurred_at=f.occurred_at,
                found_at=now,
            )
            .on_conflict_do_nothing(index_elements=["finding_key"])
            .returning(RiskSignal.signal_id)
        )
        if session.execute(statement).scalar_one_or_none() is not None:
            result.found[f.kind.value] += 1
            log.info("risk signal %s: %s", f.kind.value, f.summary)
