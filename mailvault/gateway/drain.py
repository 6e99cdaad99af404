"""Moves journaled messages from the spool into the archive, through the one ingest path.

Idempotent: each record is an arrival identified by its queue id, so records archived before a
crash are recognised (outcome "known") when the segment is read again. A segment is removed only
after every record in it is committed to the archive.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from mailvault.archive.arrival import Arrival, SourceInfo, utcnow
from mailvault.archive.ingest import Ingestor
from mailvault.archive.models import SourceKind
from mailvault.gateway.spool import Spool, SpoolRecord, read_segment

log = logging.getLogger(__name__)


def arrival_of(record: SpoolRecord) -> Arrival:
    header = record.header
    xforward = header.get("xforward") or {}
    detail = {
        key: header[key]
        for key in ("queue_id", "mode", "rcpt_tos", "helo", "tls", "tls_cipher", "auth", "mail_options")
        if header.get(key) not in (None, [], "")
    }
    if xforward:
        detail["xforward"] = xforward
    try:
        arrived = datetime.fromisoformat(header["received_at"])
    except (KeyError, ValueError):
        arrived = utcnow()
    source = SourceInfo(
        kind=SourceKind.SMTP,
        origin=str(header.get("client") or ""),
        folder=str(header.get("mode") or ""),
        locator=str(header.get("queue_id") or f"{record.segment}:{record.offset}"),
        envelope_from=str(header.get("mail_from") or ""),
        envelope_to=tuple(str(r) for r in header.get("recipients") or header.get("rcpt_tos") or ()),
        detail=detail,
        arrived_at=arrived,
    )
    return Arrival(record.raw, source)


class Drainer:
    def __init__(self, spool: Spool, ingestor: Ingestor, *, batch_size: int = 200) -> None:
        self.spool = spool
        self.ingestor = ingestor
        self.batch_size = batch_size
        self._done: dict[str, int] = {}  # segment -> offset archived up to (this process)

    def drain(self) -> int:
        """Archive every durable record not yet archived; return how many were archived."""
        total = 0
        for segment in self.spool.segments():
            active = self.spool.is_active(segment)
            limit = self.spool.durable_size(segment)
            if active and limit is None:
                continue
            for batch, end in self._batches(segment, limit):
                self.ingestor.ingest_many([arrival_of(r) for r in batch])
                self._done[segment.name] = end
                total += len(batch)
            if not active and not self.spool.is_active(segment):
                self.spool.remove(segment)
                self._done.pop(segment.name, None)
        return total

    def _batches(self, segment: Path, limit: int | None) -> Iterator[tuple[list[SpoolRecord], int]]:
        batch: list[SpoolRecord] = []
        end = start = self._done.get(segment.name, 0)
        for record in read_segment(segment, start, limit):
            batch.append(record)
            end = record.offset + record.length
            if len(batch) >= self.batch_size:
                yield batch, end
                batch = []
        if batch:
            yield batch, end
