"""Re-check the ledger: the chain itself (no gaps, every link, every hash), then every sealed row
against the database, then the rows the ledger does not know. Findings name the entry and the row.

Everything is read in one snapshot (a single SQLite read transaction; REPEATABLE READ on
PostgreSQL), so rows written while the check runs are neither half-seen nor reported. Memory stays
bounded: the chain is walked in chunks of `chunk` entries, the rows they seal are looked up in
chunks, unsealed rows are found by anti-joins in the database, and the one set kept across the
walk (messages sealed by an arrival) is a bitmap of archive ids, an eighth of a byte a message.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import String, cast, exists, func, select
from sqlalchemy.orm import Session

from mailvault.access.models import AuditEvent
from mailvault.archive.db import Database
from mailvault.archive.models import Blob, Message, Source
from mailvault.errors import MailvaultError
from mailvault.ledger import chain, payloads
from mailvault.ledger.chain import GENESIS, EntryKind, Head
from mailvault.ledger.models import LedgerCheckpoint, LedgerEntry

_IN = 500  # values per IN (…): under SQLite's bound-parameter limit
_KINDS = frozenset(kind.value for kind in EntryKind)
_Parsed = tuple[LedgerEntry, dict[str, Any] | None]  # an entry and its payload, if it is a JSON object
_CHECKPOINT = re.compile(r"\b(\d+):([0-9a-f]{64})\b")


class Problem(StrEnum):
    GAP = "gap"  # entries missing: seq jumps
    LINK = "link"  # prev_hash is not the previous entry's hash: an entry before it was rewritten
    HASH = "hash"  # entry_hash does not match the entry's contents: the entry was altered
    PAYLOAD = "payload"  # the payload is not what an entry of its kind holds
    DIFFERS = "differs"  # a sealed row no longer says what the ledger sealed
    VANISHED = "vanished"  # a sealed row is gone, and no purge entry covers it
    UNSEALED = "unsealed"  # a row the ledger does not know: not written by mailvault
    CHECKPOINT = "checkpoint"  # the chain no longer holds a hash handed outside: it was rewritten


CHAIN_PROBLEMS = frozenset({Problem.GAP, Problem.LINK, Problem.HASH})


@dataclass(frozen=True, slots=True)
class Finding:
    problem: Problem
    text: str  # one line, naming the entry and the row
    seq: int | None = None  # the ledger entry concerned


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A chain head handed outside: the chain must still have `entry_hash` at `seq`."""

    seq: int
    entry_hash: str
    label: str = ""  # where it came from: "checkpoint 3", a file name

    def __str__(self) -> str:
        return f"{self.seq}:{self.entry_hash}"


@dataclass
class LedgerReport:
    entries: int = 0
    head: Head = field(default_factory=lambda: Head(0, GENESIS))
    findings: list[Finding] = field(default_factory=list)
    omitted: Counter[Problem] = field(default_factory=Counter)  # beyond the per-problem limit
    checkpoints: int = 0  # checkpoints compared with the chain
    limit: int = 100
    _counts: Counter[Problem] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.findings and not self.omitted

    @property
    def first_broken(self) -> Finding | None:
        """The lowest entry that no longer holds: altered, unlinked, or its row changed."""
        placed = [f for f in self.findings if f.seq is not None]
        return min(placed, key=lambda f: (f.seq or 0, f.problem not in CHAIN_PROBLEMS)) if placed else None

    def add(self, problem: Problem, text: str, seq: int | None = None) -> None:
        self._counts[problem] += 1
        if self._counts[problem] > self.limit:
            self.omitted[problem] += 1
        else:
            self.findings.append(Finding(problem, text, seq))


def parse_checkpoint(text: str, label: str = "") -> list[Checkpoint]:
    """Checkpoints in `text`: "SEQ:HASH", or every SEQ:HASH in a checkpoint's text or mail."""
    found = [Checkpoint(int(seq), sha, label) for seq, sha in _CHECKPOINT.findall(text.lower())]
    if not found:
        where = f"{label}: " if label else ""
        raise MailvaultError(
            f"{where}no checkpoint found; give SEQ:HASH (64 hex digits) or a checkpoint's text"
        )
    return list(dict.fromkeys(found))


def verify_ledger(
    db: Database,
    *,
    checkpoints: Sequence[Checkpoint] = (),
    chunk: int = 1000,
    limit: int = 100,
    on_checked: Callable[[int], None] = lambda n: None,
) -> LedgerReport:
    """Check the chain, the sealed rows, and the rows nothing sealed; `limit` findings per problem
    are kept (the rest are counted), so that a wholly unsealed archive does not fill memory."""
    report = LedgerReport(limit=limit)
    with _snapshot(db) as session:
        wanted = {c.seq: [c] for c in _recorded_checkpoints(session)}
        for given in checkpoints:
            wanted.setdefault(given.seq, []).append(given)
        report.checkpoints = sum(len(c) for c in wanted.values())
        walk = _Walk(session, report, wanted)
        after = 0
        while entries := chain.entries(session, after, chunk):
            batch = [(entry, _payload(entry)) for entry in entries]
            walk.chain(batch)
            walk.rows(batch)
            after = entries[-1].seq
            session.expunge_all()  # the identity map would otherwise hold every entry
            on_checked(len(entries))
        for seq, unmatched in sorted(wanted.items()):
            for checkpoint in unmatched:
                report.add(
                    Problem.CHECKPOINT,
                    f"checkpoint {checkpoint} ({checkpoint.label or 'given'}): the chain has no entry {seq} "
                    f"(it ends at {report.head.seq}): it was cut short or rewritten",
                )
        _unsealed_sources(session, report, chunk)
        _unsealed_events(session, report, chunk)
        _unsealed_messages(session, report, walk.sealed, chunk)
    return report


@contextmanager
def _snapshot(db: Database) -> Iterator[Session]:
    with db.reading() as session:
        if not db.is_sqlite:  # one SQLite transaction is a snapshot already (WAL)
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield session


def _recorded_checkpoints(session: Session) -> list[Checkpoint]:
    rows = session.execute(
        select(LedgerCheckpoint.checkpoint_id, LedgerCheckpoint.seq, LedgerCheckpoint.entry_hash)
    )
    return [Checkpoint(seq, sha, f"checkpoint {checkpoint_id}") for checkpoint_id, seq, sha in rows]


class _Bitmap:
    """A set of archive ids in a bit each: bounded by the highest id, not by how many there are."""

    _DENSE = 1 << 34  # ids beyond this (never assigned by a sequence in practice) go in a set

    def __init__(self) -> None:
        self.bits = bytearray()
        self.sparse: set[int] = set()

    def add(self, value: int) -> None:
        if value < 0 or value >= self._DENSE:
            self.sparse.add(value)
            return
        index = value >> 3
        if index >= len(self.bits):
            self.bits.extend(bytes(max(index + 1 - len(self.bits), len(self.bits) // 2)))
        self.bits[index] |= 1 << (value & 7)

    def __contains__(self, value: int) -> bool:
        if value < 0 or value >= self._DENSE:
            return value in self.sparse
        index = value >> 3
        return index < len(self.bits) and bool(self.bits[index] & (1 << (value & 7)))


class _Walk:
    """State carried from chunk to chunk of the chain."""

    def __init__(self, session: Session, report: LedgerReport, checkpoints: dict[int, list[Checkpoint]]):
        self.session = session
        self.report = report
        self.checkpoints = checkpoints
        self.sealed = _Bitmap()  # archive ids of the messages an arrival sealed

    def chain(self, batch: list[_Parsed]) -> None:
        report = self.report
        for entry, payload in batch:
            previous = report.head
            expected = previous.seq + 1
            name = _name(entry, payload)
            if entry.seq != expected:
                missing = f"{expected}" if entry.seq == expected + 1 else f"{expected}–{entry.seq - 1}"
                report.add(
                    Problem.GAP,
                    f"ledger entries {missing} are missing (the chain jumps from entry {previous.seq} "
                    f"to entry {entry.seq})",
                    expected,
                )
            elif entry.prev_hash != previous.entry_hash:
                before = f"entry {previous.seq}" if previous.seq else "the start of the chain"
                report.add(
                    Problem.LINK,
                    f"ledger entry {entry.seq} ({name}): does not link to {before} (prev_hash "
                    f"{entry.prev_hash[:16]}…, {before} hashes to {previous.entry_hash[:16]}…): "
                    "an entry before it was rewritten",
                    entry.seq,
                )
            if not chain.verify_entry(entry):
                report.add(
                    Problem.HASH,
                    f"ledger entry {entry.seq} ({name}): hash does not match its contents",
                    entry.seq,
                )
            for checkpoint in self.checkpoints.pop(entry.seq, []):
                if checkpoint.entry_hash != entry.entry_hash:
                    report.add(
                        Problem.CHECKPOINT,
                        f"checkpoint {checkpoint} ({checkpoint.label or 'given'}) does not hold: the chain "
                        f"now has {entry.entry_hash[:16]}… at entry {entry.seq}: the ledger was rewritten at "
                        f"or before entry {entry.seq}",
                    )
            report.head = Head(entry.seq, entry.entry_hash)
            report.entries += 1

    def rows(self, batch: list[_Parsed]) -> None:
        arrivals: list[tuple[LedgerEntry, dict[str, Any]]] = []
        audits: list[tuple[LedgerEntry, dict[str, Any]]] = []
        for entry, payload in batch:
            if entry.kind == EntryKind.ARRIVAL:
                if payload is None or not _is_arrival(payload):
                    self._bad_payload(entry, "an arrival with a source")
                    continue
                arrivals.append((entry, payload))
                if isinstance(payload.get("message"), dict):
                    archive_id = payload["message"].get("archive_id")
                    if isinstance(archive_id, int):
                        self.sealed.add(archive_id)
            elif entry.kind == EntryKind.AUDIT:
                if payload is None or not entry.ref.isdigit():
                    self._bad_payload(entry, "an audit event")
                    continue
                audits.append((entry, payload))
            elif entry.kind not in _KINDS:
                self._bad_payload(entry, "a known kind of entry")
        if arrivals:
            self._arrivals(arrivals)
        if audits:
            self._audits(audits)

    def _bad_payload(self, entry: LedgerEntry, what: str) -> None:
        self.report.add(
            Problem.PAYLOAD, f"ledger entry {entry.seq} ({entry.kind} {entry.ref}): is not {what}", entry.seq
        )

    def _arrivals(self, arrivals: list[tuple[LedgerEntry, dict[str, Any]]]) -> None:
        session, report = self.session, self.report
        sources = {
            s.source_key: s for s in _load(session, Source, Source.source_key, [e.ref for e, _ in arrivals])
        }
        message_ids = [
            p["message"].get("archive_id") for _, p in arrivals if isinstance(p.get("message"), dict)
        ]
        messages = {m.archive_id: m for m in _load(session, Message, Message.archive_id, message_ids)}
        shas = [p["source"].get("sha256") for _, p in arrivals]
        blobs = set(_values(session, Blob.sha256, Blob.sha256, shas))
        missing: list[tuple[LedgerEntry, dict[str, Any], str]] = []
        for entry, payload in arrivals:
            name = _name(entry, payload)
            sealed_source: dict[str, Any] = payload["source"]
            sealed_message: dict[str, Any] | None = payload.get("message")
            source = sources.get(entry.ref)
            message = None
            if sealed_message is not None:
                message = messages.get(sealed_message.get("archive_id"))
            if source is None:
                missing.append((entry, payload, f"sources row {entry.ref}"))
            if sealed_message is not None and message is None:
                missing.append((entry, payload, f"message {sealed_message.get('archive_id')}"))
            if sealed_source.get("sha256") not in blobs:
                missing.append((entry, payload, f"stored copy {sealed_source.get('sha256')} (blobs row)"))
            if source is None or (sealed_message is not None and message is None):
                continue  # what is left is compared below; the missing row is reported
            if chain.canonical(payloads.arrival_of(source, message)) == entry.payload:
                continue
            changed = _differing(sealed_source, payloads.of_object(source, payloads.SOURCE_FIELDS))
            if changed:
                report.add(
                    Problem.DIFFERS,
                    f"sources row {entry.ref} differs from ledger entry {entry.seq} ({name}): {changed}",
                    entry.seq,
                )
            if sealed_message is not None and message is not None:
                message_changed = _differing(
                    sealed_message, payloads.of_object(message, payloads.MESSAGE_FIELDS)
                )
                if message_changed:
                    changed = message_changed
                    report.add(
                        Problem.DIFFERS,
                        f"message {message.archive_id} differs from ledger entry {entry.seq} ({name}): "
                        f"{message_changed}",
                        entry.seq,
                    )
            if not changed:
                report.add(
                    Problem.DIFFERS,
                    f"ledger entry {entry.seq} ({name}) seals other fields than its rows now have",
                    entry.seq,
                )
        if missing:
            purged = chain.sealed_refs(
                session, EntryKind.PURGE, {str(p["source"].get("archive_id")) for _, p, _ in missing}
            )
            for entry, payload, what in missing:
                if str(payload["source"].get("archive_id")) not in purged:
                    report.add(
                        Problem.VANISHED,
                        f"{what} sealed by ledger entry {entry.seq} ({_name(entry, payload)}) is missing, "
                        "and no purge entry covers it",
                        entry.seq,
                    )

    def _audits(self, audits: list[tuple[LedgerEntry, dict[str, Any]]]) -> None:
        events = {
            e.event_id: e
            for e in _load(self.session, AuditEvent, AuditEvent.event_id, [int(e.ref) for e, _ in audits])
        }
        for entry, payload in audits:
            event = events.get(int(entry.ref))
            if event is None:
                self.report.add(
                    Problem.VANISHED,
                    f"audit event {entry.ref} sealed by ledger entry {entry.seq} ({_name(entry, payload)}) "
                    "is missing",
                    entry.seq,
                )
                continue
            rebuilt = payloads.audit_of(event)
            if chain.canonical(rebuilt) != entry.payload:
                self.report.add(
                    Problem.DIFFERS,
                    f"audit event {entry.ref} differs from ledger entry {entry.seq}: "
                    f"{_differing(payload, rebuilt) or 'payload'}",
                    entry.seq,
                )


def _payload(entry: LedgerEntry) -> dict[str, Any] | None:
    try:
        value = json.loads(entry.payload)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _is_arrival(payload: dict[str, Any] | None) -> bool:
    if payload is None or not isinstance(payload.get("source"), dict):
        return False
    return "message" not in payload or isinstance(payload["message"], dict)


def _name(entry: LedgerEntry, payload: dict[str, Any] | None) -> str:
    """A few words a person recognises the sealed row by."""
    payload = payload or {}
    if entry.kind == EntryKind.ARRIVAL and isinstance(payload.get("source"), dict):
        source = payload["source"]
        where = f"{source.get('kind')} {source.get('origin')}"
        if source.get("folder"):
            where += f" [{source['folder']}]"
        return f"arrival {where} of message {source.get('archive_id')}"
    if entry.kind == EntryKind.AUDIT:
        who = payload.get("username") or "anonymous"
        return f"audit event {entry.ref}: {payload.get('action')} by {who} at {payload.get('at')}"
    if entry.kind == EntryKind.PURGE:
        return f"purge of message {entry.ref}"
    return f"{entry.kind} {entry.ref}"


def _differing(sealed: dict[str, Any], rebuilt: dict[str, Any]) -> str:
    """The fields that differ, comparing JSON values as the ledger stores them."""
    now = json.loads(chain.canonical(rebuilt))
    names = sorted(name for name in sealed.keys() | now.keys() if sealed.get(name) != now.get(name))
    return ", ".join(names)


def _load(session: Session, model: type[Any], column: Any, values: Sequence[Any]) -> list[Any]:
    wanted = sorted({v for v in values if v is not None}, key=str)
    found: list[Any] = []
    for start in range(0, len(wanted), _IN):
        found.extend(session.scalars(select(model).where(column.in_(wanted[start : start + _IN]))))
    return found


def _values(session: Session, column: Any, key: Any, values: Sequence[Any]) -> list[Any]:
    wanted = sorted({v for v in values if isinstance(v, str)})
    found: list[Any] = []
    for start in range(0, len(wanted), _IN):
        found.extend(session.scalars(select(column).where(key.in_(wanted[start : start + _IN]))))
    return found


def _unsealed_sources(session: Session, report: LedgerReport, chunk: int) -> None:
    sealed = exists().where(LedgerEntry.kind == EntryKind.ARRIVAL.value, LedgerEntry.ref == Source.source_key)
    last = 0
    while True:
        rows = session.execute(
            select(Source.source_id, Source.source_key, Source.archive_id, Source.kind, Source.origin)
            .where(Source.source_id > last, ~sealed)
            .order_by(Source.source_id)
            .limit(chunk)
        ).all()
        for _, key, archive_id, kind, origin in rows:
            report.add(
                Problem.UNSEALED,
                f"sources row {key} (arrival {kind} {origin} of message {archive_id}) is not in the ledger",
            )
        if len(rows) < chunk:
            return
        last = rows[-1][0]
        if report.omitted[Problem.UNSEALED]:  # past the limit: count the rest in one query
            rest = session.scalar(select(func.count()).where(Source.source_id > last, ~sealed))
            report.omitted[Problem.UNSEALED] += int(rest or 0)
            return


def _unsealed_events(session: Session, report: LedgerReport, chunk: int) -> None:
    sealed = exists().where(
        LedgerEntry.kind == EntryKind.AUDIT.value, LedgerEntry.ref == cast(AuditEvent.event_id, String)
    )
    last = 0
    while True:
        rows = session.execute(
            select(AuditEvent.event_id, AuditEvent.action, AuditEvent.username, AuditEvent.at)
            .where(AuditEvent.event_id > last, ~sealed)
            .order_by(AuditEvent.event_id)
            .limit(chunk)
        ).all()
        for event_id, action, username, at in rows:
            report.add(
                Problem.UNSEALED,
                f"audit event {event_id} ({action} by {username or 'anonymous'} at {at.isoformat()}) "
                "is not in the ledger",
            )
        if len(rows) < chunk:
            return
        last = rows[-1][0]
        if report.omitted[Problem.UNSEALED]:
            rest = session.scalar(select(func.count()).where(AuditEvent.event_id > last, ~sealed))
            report.omitted[Problem.UNSEALED] += int(rest or 0)
            return


def _unsealed_messages(session: Session, report: LedgerReport, sealed: _Bitmap, chunk: int) -> None:
    last = 0
    while rows := session.execute(
        select(Message.archive_id, Message.subject)
        .where(Message.archive_id > last)
        .order_by(Message.archive_id)
        .limit(chunk)
    ).all():
        for archive_id, subject in rows:
            if archive_id not in sealed:
                report.add(Problem.UNSEALED, f"message {archive_id} ({subject[:60]!r}) is not in the ledger")
        last = rows[-1][0]
