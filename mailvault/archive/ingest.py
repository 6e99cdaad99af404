"""THE write path: every source (file import, SMTP gateway, IMAP sync) archives through here.

For a batch of arrivals: hash the exact bytes, parse what is new, make the bytes durable in the
blob store, then record message, blob, participants, attachments and the arrival in one
transaction. `submit` starts a batch (parsing may run in other processes) and `finish` completes
it, so that a bulk source can parse the next batch while the current one is written;
`ingest_many` is the two in a row. Idempotent: an arrival recorded before adds nothing, so any
step can be replayed after a crash. Blobs are durable before any row refers to them; a blob whose
rows were lost in a crash is picked up again when its source replays.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, exc, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailvault.archive.arrival import Arrival, SourceInfo, utcnow
from mailvault.archive.blobs import BlobStore, sha256_of
from mailvault.archive.db import Database
from mailvault.archive.direction import classify
from mailvault.archive.identity import dedup_key
from mailvault.archive.models import Attachment, Blob, Message, Participant, Role, Source
from mailvault.errors import ArchiveError
from mailvault.ledger import payloads
from mailvault.ledger.chain import EntryKind, Seal, append, sealed_refs
from mailvault.mime import ParsedMessage, parse_message
from mailvault.mime.model import Address, ParseStatus

log = logging.getLogger(__name__)

ParseMap = Callable[[list[bytes]], Iterable[ParsedMessage]]

_RETRIES = 3  # concurrent writers on PostgreSQL can race on a unique key; the loser re-reads
PURGED = 0  # the archive id reported for an arrival whose message the retention purge deleted


class Outcome(StrEnum):
    NEW = "new"  # a message the archive did not have
    COPY = "copy"  # other bytes of a message already archived (it came by another route)
    DUPLICATE = "duplicate"  # these exact bytes were archived before; this arrival is recorded
    KNOWN = "known"  # this very arrival was recorded before (or recorded, then purged): nothing added


@dataclass(frozen=True, slots=True)
class IngestResult:
    archive_id: int
    sha256: str
    outcome: Outcome
    parse_status: ParseStatus | None  # None when the bytes were already archived (not re-parsed)
    problems: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return self.parse_status is not None and self.parse_status is not ParseStatus.OK


@dataclass(slots=True)
class _Item:
    arrival: Arrival
    sha256: str
    source_key: str
    wrapper_sha256: str | None = None
    parsed: ParsedMessage | None = None
    dedup_key: str | None = None


@dataclass(slots=True)
class Pending:
    """A submitted batch: hashed, looked up, parsing under way (results are consumed in finish)."""

    items: list[_Item]
    fresh: list[_Item]
    parsed: Iterable[ParsedMessage]
    started: float


def parse_in_process(raws: list[bytes]) -> Iterable[ParsedMessage]:
    return map(parse_message, raws)


# Core tables: bulk inserts through them skip the ORM's per-object bookkeeping.
_MESSAGES: Table = Message.__table__  # type: ignore[assignment]
_BLOBS: Table = Blob.__table__  # type: ignore[assignment]
_SOURCES: Table = Source.__table__  # type: ignore[assignment]
_ATTACHMENTS: Table = Attachment.__table__  # type: ignore[assignment]
_PARTICIPANTS: Table = Participant.__table__  # type: ignore[assignment]


class Ingestor:
    """Archives batches of arrivals into a database and a blob store."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        *,
        company_domains: Sequence[str] = (),
        parse_map: ParseMap = parse_in_process,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.company_domains = list(company_domains)
        self.parse_map = parse_map

    def ingest(self, arrival: Arrival) -> IngestResult:
        return self.ingest_many([arrival])[0]

    def ingest_many(self, arrivals: Sequence[Arrival]) -> list[IngestResult]:
        """Archive every arrival; when this returns, all of them are durable."""
        return self.finish(self.submit(arrivals))

    def record_known(self, arrivals: Sequence[tuple[SourceInfo, str]]) -> list[IngestResult | None]:
        """Record arrivals of bytes the archive holds already, identified without reading them
        again (a source matched them to a stored copy: the IMAP import, by Message-ID and size
        within one mailbox). A sha256 the archive does not hold gives None: fetch and ingest it."""
        if not arrivals:
            return []
        with self.db.writing() as session:
            blob_ids = _existing(session, Blob.sha256, {sha for _, sha in arrivals}, Blob.archive_id)
            items = [_Item(Arrival(b"", source), sha, source.key(sha)) for source, sha in arrivals]
            known = _existing(session, Source.source_key, {i.source_key for i in items})
            rows: list[dict[str, Any]] = []
            results: list[IngestResult | None] = []
            for item in items:
                archive_id = blob_ids.get(item.sha256)
                if archive_id is None:
                    results.append(None)
                    continue
                outcome = Outcome.KNOWN if item.source_key in known else Outcome.DUPLICATE
                if outcome is Outcome.DUPLICATE:
                    known[item.source_key] = archive_id
                    rows.append(_source_row(item, archive_id))
                results.append(IngestResult(archive_id, item.sha256, outcome, None))
            if rows:
                session.execute(insert(_SOURCES), rows)
                append(session, [_arrival_seal(row, None) for row in rows])
        return results

    def submit(self, arrivals: Sequence[Arrival]) -> Pending:
        """Hash the arrivals and start parsing those whose bytes the archive does not hold."""
        started = time.monotonic()
        items = [self._item(arrival) for arrival in arrivals]
        with self.db.reading() as session:
            stored = _existing(session, Blob.sha256, {i.sha256 for i in items})
        fresh = [i for i in items if i.sha256 not in stored]
        parsed = self.parse_map([i.arrival.raw for i in fresh]) if fresh else ()
        return Pending(items, fresh, parsed, started)

    def finish(self, pending: Pending) -> list[IngestResult]:
        """Store and record a submitted batch; when this returns, all of it is durable."""
        items = pending.items
        if not items:
            return []
        for item, parsed in zip(pending.fresh, pending.parsed, strict=True):
            item.parsed = parsed
            item.dedup_key = dedup_key(parsed, item.sha256)
        blobs = {i.sha256: i.arrival.raw for i in pending.fresh}
        blobs.update(
            {i.wrapper_sha256: i.arrival.wrapper for i in items if i.wrapper_sha256 and i.arrival.wrapper}
        )
        stored_sizes = self.blobs.put_many(blobs)
        for attempt in range(1, _RETRIES + 1):
            try:
                with self.db.writing() as session:
                    results = self._record(session, items, stored_sizes)
                break
            except exc.IntegrityError as error:
                if attempt == _RETRIES:
                    raise ArchiveError(f"cannot record messages: {error.orig}") from error
                log.info("a concurrent writer stored the same message; retrying (%d)", attempt)
        self._log(items, results, time.monotonic() - pending.started)
        return results

    def _item(self, arrival: Arrival) -> _Item:
        sha = sha256_of(arrival.raw)
        wrapper = sha256_of(arrival.wrapper) if arrival.wrapper is not None else None
        return _Item(arrival, sha, arrival.source.key(sha), wrapper)

    def _record(
        self, session: Session, items: list[_Item], stored_sizes: dict[str, int]
    ) -> list[IngestResult]:
        wrappers = {i.wrapper_sha256 for i in items if i.wrapper_sha256}
        blob_ids = _existing(session, Blob.sha256, {i.sha256 for i in items} | wrappers, Blob.archive_id)
        message_ids = _existing(
            session,
            Message.dedup_key,
            {i.dedup_key for i in items if i.dedup_key},
            Message.archive_id,
        )
        known_sources = _existing(session, Source.source_key, {i.source_key for i in items})
        # Arrivals sealed in the ledger whose rows are gone: the retention purge deleted them.
        # Replaying such an arrival (a re-import of the same file) must not bring the mail back.
        purged = sealed_refs(session, EntryKind.ARRIVAL, {i.source_key for i in items} - known_sources.keys())

        new_messages: dict[str, _Item] = {}
        for item in items:
            if item.sha256 in blob_ids or item.dedup_key is None or item.source_key in purged:
                continue
            if item.dedup_key not in message_ids and item.dedup_key not in new_messages:
                new_messages[item.dedup_key] = item
        created = self._insert_messages(session, list(new_messages.values()))
        message_ids.update({key: archive_id for key, (archive_id, _) in created.items()})
        message_rows = dict(created.values())

        now = utcnow()
        results: list[IngestResult] = []
        blob_rows: list[dict[str, Any]] = []
        source_rows: list[dict[str, Any]] = []
        envelope_rows: list[dict[str, Any]] = []
        for item in items:
            if item.source_key in purged:
                results.append(IngestResult(PURGED, item.sha256, Outcome.KNOWN, None))
                continue
            if item.sha256 in blob_ids:
                archive_id = blob_ids[item.sha256]
                outcome = Outcome.DUPLICATE
            else:
                key = _parsed(item)[1]
                archive_id = message_ids[key]
                is_new = new_messages.get(key) is item
                outcome = Outcome.NEW if is_new else Outcome.COPY
                blob_ids[item.sha256] = archive_id
                blob_rows.append(
                    {
                        "sha256": item.sha256,
                        "archive_id": archive_id,
                        "size": len(item.arrival.raw),
                        "stored_size": stored_sizes.get(item.sha256) or self.blobs.stored_size(item.sha256),
                        "stored_at": now,
                    }
                )
            wrapper = item.wrapper_sha256
            if wrapper is not None and item.arrival.wrapper is not None and wrapper not in blob_ids:
                blob_ids[wrapper] = archive_id
                blob_rows.append(
                    {
                        "sha256": wrapper,
                        "archive_id": archive_id,
                        "size": len(item.arrival.wrapper),
                        "stored_size": stored_sizes.get(wrapper) or self.blobs.stored_size(wrapper),
                        "stored_at": now,
                    }
                )
            if item.source_key in known_sources:
                outcome = Outcome.KNOWN
            else:
                known_sources[item.source_key] = archive_id
                source_rows.append(_source_row(item, archive_id))
                envelope_rows.extend(_envelope_rows(item, archive_id))
            parsed = item.parsed
            results.append(
                IngestResult(
                    archive_id=archive_id,
                    sha256=item.sha256,
                    outcome=outcome,
                    parse_status=parsed.status if parsed else None,
                    problems=tuple(parsed.problems) if parsed else (),
                )
            )
        for row in blob_rows:  # a purge may have deleted a file put_many found present and skipped
            if not self.blobs.exists(row["sha256"]):
                raise ArchiveError(
                    f"stored message {row['sha256']} vanished while archiving (a purge ran); retry"
                )
        if blob_rows:
            session.execute(insert(_BLOBS), blob_rows)
        if source_rows:
            session.execute(insert(_SOURCES), source_rows)
            # Each arrival is sealed; the one that created its message seals the message too.
            append(
                session,
                [_arrival_seal(row, message_rows.pop(row["archive_id"], None)) for row in source_rows],
            )
        if envelope_rows:
            self._insert_ignoring_duplicates(session, envelope_rows)
        return results

    def _insert_messages(self, session: Session, items: list[_Item]) -> dict[str, tuple[int, dict[str, Any]]]:
        """Insert the messages; {dedup key: (archive id, the row as written)}."""
        if not items:
            return {}
        now = utcnow()
        rows = [self._message_row(item, now) for item in items]
        returned = session.execute(
            insert(_MESSAGES).returning(_MESSAGES.c.dedup_key, _MESSAGES.c.archive_id), rows
        ).all()
        ids = {key: archive_id for key, archive_id in returned}
        written = {
            row["dedup_key"]: (ids[row["dedup_key"]], {**row, "archive_id": ids[row["dedup_key"]]})
            for row in rows
        }
        participant_rows: list[dict[str, Any]] = []
        attachment_rows: list[dict[str, Any]] = []
        for item in items:
            parsed, key = _parsed(item)
            archive_id = ids[key]
            participant_rows.extend(_participant_rows(parsed, archive_id))
            attachment_rows.extend(
                {
                    "archive_id": archive_id,
                    "position": position,
                    "filename": a.filename[:1000],
                    "content_type": a.content_type[:255],
                    "size": a.size,
                    "sha256": a.sha256,
                    "inline": a.inline,
                    "encoding": a.encoding,
                }
                for position, a in enumerate(parsed.attachments)
            )
        if participant_rows:
            self._insert_ignoring_duplicates(session, participant_rows)
        if attachment_rows:
            session.execute(insert(_ATTACHMENTS), attachment_rows)
        return written

    def _message_row(self, item: _Item, now: Any) -> dict[str, Any]:
        parsed, key = _parsed(item)
        author = parsed.author
        source = item.arrival.source
        recipients = [a.addr for a in (*parsed.to, *parsed.cc, *parsed.bcc)]
        recipients.extend(source.envelope_to)
        author_addr = author.addr if author else (source.envelope_from or "")
        return {
            "sha256": item.sha256,
            "size": len(item.arrival.raw),
            "dedup_key": key,
            "message_id": parsed.message_id[:998] if parsed.message_id else None,
            "date": parsed.date,
            "subject": parsed.subject,
            "sender_addr": (author.addr if author else "")[:320],
            "sender_name": author.name if author else "",
            "direction": classify(author_addr, recipients, self.company_domains).value,
            "in_reply_to": parsed.in_reply_to[:998] if parsed.in_reply_to else None,
            "reference_ids": " ".join(parsed.references),
            "thread_id": None,
            "attachment_count": sum(1 for a in parsed.attachments if not a.inline),
            "parse_status": parsed.status.value,
            "parse_problems": "\n".join(parsed.problems),
            "archived_at": now,
        }

    def _insert_ignoring_duplicates(self, session: Session, rows: list[dict[str, Any]]) -> None:
        # The same address can appear twice in one header, or again in a later arrival.
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        unique: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in rows:
            unique.setdefault((row["archive_id"], row["role"], row["address"], row["name"]), row)
        statement = dialect.insert(_PARTICIPANTS).on_conflict_do_nothing()
        session.execute(statement, list(unique.values()))

    def _log(self, items: list[_Item], results: list[IngestResult], seconds: float) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        per_message_ms = seconds * 1000 / len(items)
        for item, result in zip(items, results, strict=True):
            source = item.arrival.source
            log.info(
                "archived id=%d sha256=%s size=%d source=%s:%s folder=%s outcome=%s status=%s ms=%.1f",
                result.archive_id,
                result.sha256[:16],
                len(item.arrival.raw),
                source.kind.value,
                source.origin,
                source.folder or "-",
                result.outcome.value,
                result.parse_status.value if result.parse_status else "-",
                per_message_ms,
            )


def _parsed(item: _Item) -> tuple[ParsedMessage, str]:
    """Parse result and key of an item whose bytes were new (those, and only those, are parsed)."""
    if item.parsed is None or item.dedup_key is None:
        raise RuntimeError(f"internal error: message {item.sha256} was not parsed")
    return item.parsed, item.dedup_key


def _existing(session: Session, column: Any, values: set[str], value_column: Any = None) -> dict[str, Any]:
    """{value: value_column} for the values already in the table, looked up in chunks."""
    found: dict[str, Any] = {}
    ordered = sorted(values)
    for start in range(0, len(ordered), 500):  # stay under SQLite's bound-parameter limit
        chunk = ordered[start : start + 500]
        wanted = (column, value_column) if value_column is not None else (column, column)
        for key, value in session.execute(select(*wanted).where(column.in_(chunk))):
            found[key] = value
    return found


def _participant_rows(parsed: ParsedMessage, archive_id: int) -> list[dict[str, Any]]:
    groups: list[tuple[Role, list[Address]]] = [
        (Role.FROM, parsed.from_),
        (Role.SENDER, parsed.sender),
        (Role.REPLY_TO, parsed.reply_to),
        (Role.TO, parsed.to),
        (Role.CC, parsed.cc),
        (Role.BCC, parsed.bcc),
    ]
    return [
        _participant(archive_id, role, address.addr, address.name)
        for role, addresses in groups
        for address in addresses
    ]


def _envelope_rows(item: _Item, archive_id: int) -> list[dict[str, Any]]:
    source = item.arrival.source
    rows = [_participant(archive_id, Role.ENVELOPE_TO, rcpt, "") for rcpt in source.envelope_to]
    if source.envelope_from:
        rows.append(_participant(archive_id, Role.ENVELOPE_FROM, source.envelope_from, ""))
    return rows


def _participant(archive_id: int, role: Role, addr: str, name: str) -> dict[str, Any]:
    addr = addr.lower()[:320]
    return {
        "archive_id": archive_id,
        "role": role.value,
        "address": addr,
        "name": name[:500],
        "domain": addr.rpartition("@")[2][:255] if "@" in addr else "",
    }


def _arrival_seal(source_row: dict[str, Any], message_row: dict[str, Any] | None) -> Seal:
    return Seal(EntryKind.ARRIVAL, source_row["source_key"], payloads.arrival(source_row, message_row))


def _source_row(item: _Item, archive_id: int) -> dict[str, Any]:
    source = item.arrival.source
    detail = dict(source.detail)
    if source.envelope_from is not None:
        detail["mail_from"] = source.envelope_from
    if source.envelope_to:
        detail["rcpt_to"] = list(source.envelope_to)
    if source.locator:
        detail["locator"] = source.locator
    return {
        "source_key": item.source_key,
        "archive_id": archive_id,
        "sha256": item.sha256,
        "kind": source.kind.value,
        "origin": source.origin[:1000],
        "folder": source.folder[:1000],
        "owner": source.owner.lower() if source.owner else None,
        "uidvalidity": source.uidvalidity,
        "uid": source.uid,
        "flags": source.flags[:500],
        "detail": detail,
        "arrived_at": source.arrived_at,
    }
