"""Moves journaled messages from the spool into the archive, through the one ingest path.

Idempotent: each record is an arrival with a stable identity (the SMTP queue id; the IMAP
folder, UIDVALIDITY and UID), so records archived before a crash are recognised (outcome "known")
when the segment is read again. A segment is removed only after every record in it is committed
to the archive. The gateway's drain runs in a process of its own (gateway/drain_worker.py); an
IMAP import drains its own journal while it downloads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from mailvault.archive.arrival import Arrival, SourceInfo, utcnow
from mailvault.archive.ingest import Ingestor, IngestResult, Pending
from mailvault.archive.models import SourceKind
from mailvault.journal.spool import SpoolRecord, read_segment, torn_tail
from mailvault.journal.state import SpoolView
from mailvault.mime.journalreport import is_journal_report, unwrap

log = logging.getLogger(__name__)


def arrival_of(record: SpoolRecord, relay: dict[str, object] | None = None) -> Arrival:
    """The archive arrival of a journaled message: one its writer described whole (`source`), or
    an SMTP one built from its envelope. An Exchange journal report is unwrapped: the original is
    archived with the report's envelope, the report kept as another stored copy."""
    header = record.header
    if "source" in header:
        return Arrival(record.raw, SourceInfo.from_record(header["source"]))
    xforward = header.get("xforward") or {}
    detail: dict[str, object] = {
        key: header[key]
        for key in ("queue_id", "mode", "rcpt_tos", "helo", "tls", "tls_cipher", "auth", "mail_options")
        if header.get(key) not in (None, [], "")
    }
    if xforward:
        detail["xforward"] = xforward
    if relay is not None:
        detail["relay"] = relay
    try:
        arrived = datetime.fromisoformat(header["received_at"])
    except (KeyError, ValueError):
        arrived = utcnow()
    raw, wrapper = record.raw, None
    envelope_from = str(header.get("mail_from") or "")
    envelope_to = tuple(str(r) for r in header.get("recipients") or header.get("rcpt_tos") or ())
    report = unwrap(record.raw) if is_journal_report(record.raw) else None
    if report is not None:
        raw, wrapper = report.original, record.raw
        envelope_from, envelope_to = report.sender, report.envelope_to
        detail["journal_report"] = report.as_detail()
    source = SourceInfo(
        kind=SourceKind.SMTP,
        origin=str(header.get("client") or ""),
        folder=str(header.get("mode") or ""),
        locator=str(header.get("queue_id") or f"{record.segment}:{record.offset}"),
        envelope_from=envelope_from,
        envelope_to=envelope_to,
        detail=detail,
        arrived_at=arrived,
    )
    return Arrival(raw, source, wrapper)


# A relay message waits this long for the record of the next hop's answer before it is archived
# with the answer unknown (the gateway stopped mid-delivery, or the answer could not be written).
SETTLE_SECONDS = 900.0


# Told what each batch gave (a progress display, an import's summary).
Archived = Callable[[Sequence[Arrival], Sequence[IngestResult]], None]


class Drainer:
    def __init__(
        self,
        spool: SpoolView,
        ingestor: Ingestor,
        *,
        batch_size: int = 200,
        on_archived: Archived | None = None,
    ) -> None:
        self.spool = spool
        self.ingestor = ingestor
        self.batch_size = batch_size
        self.on_archived = on_archived
        self._done: dict[str, int] = {}  # segment -> offset before which everything is archived

    def drain(self) -> int:
        """Archive every durable record not yet archived; return how many were archived."""
        total = 0
        for segment in self.spool.segments():
            active = self.spool.is_active(segment)
            limit = self.spool.durable_size(segment)
            if active and limit is None:
                continue
            ready, done, waiting = self._ready(segment, limit, active)
            self._archive(ready)
            total += len(ready)
            self._done[segment.name] = done
            if not active and not waiting and not self.spool.is_active(segment):
                self._finish(segment, done)
        return total

    def _archive(self, arrivals: list[Arrival]) -> None:
        """In batches, each submitted (parsing starts in the parse workers) before the previous
        one is written, so parsing and writing overlap."""
        waiting: tuple[list[Arrival], Pending] | None = None
        for start in range(0, len(arrivals), self.batch_size):
            batch = arrivals[start : start + self.batch_size]
            submitted = self.ingestor.submit(batch)
            if waiting is not None:
                self._write(*waiting)
            waiting = batch, submitted
        if waiting is not None:
            self._write(*waiting)

    def _write(self, batch: list[Arrival], pending: Pending) -> None:
        results = self.ingestor.finish(pending)
        if self.on_archived is not None:
            self.on_archived(batch, results)

    def _finish(self, segment: Path, done: int) -> None:
        """Remove an archived segment; one whose records stop before its end is damaged in the
        middle (a torn tail is only ever at the end of the newest segment of a crashed run, and it
        is never longer than one group commit): keep it for an administrator."""
        self._done.pop(segment.name, None)
        size = segment.stat().st_size
        if done < size and not torn_tail(segment, done):
            kept = self.spool.set_aside(segment)
            log.error(
                "spool segment %s is damaged at byte %d of %d; archived what precedes it, kept the "
                "file as %s: check the disk, then inspect or remove it",
                segment.name,
                done,
                size,
                kept.name,
            )
            return
        self.spool.remove(segment)

    def _ready(self, segment: Path, limit: int | None, active: bool) -> tuple[list[Arrival], int, bool]:
        """Arrivals that can be archived now, the offset up to which all is settled, and whether
        a relay message is still waiting for its next hop's answer."""
        start = self._done.get(segment.name, 0)
        records = list(read_segment(segment, start, limit))
        outcomes = {
            str(r.header.get("queue_id")): r.header.get("relay") or {}
            for r in records
            if r.header.get("kind") == "outcome"
        }
        ready: list[Arrival] = []
        done = records[-1].offset + records[-1].length if records else start
        waiting = False
        now = utcnow()
        for record in records:
            if record.header.get("kind") == "outcome":
                continue
            outcome = None
            if record.header.get("mode") == "relay":
                outcome = outcomes.get(str(record.header.get("queue_id")))
                if outcome is None:
                    age = (now - _received(record)).total_seconds()
                    if active and age < SETTLE_SECONDS:
                        if not waiting:
                            done, waiting = record.offset, True
                        continue
                    outcome = {"result": "unknown: no answer from the next hop was recorded"}
            ready.append(arrival_of(record, outcome))
        return ready, done, waiting


def _received(record: SpoolRecord) -> datetime:
    try:
        return datetime.fromisoformat(record.header["received_at"])
    except (KeyError, ValueError):
        return utcnow()
