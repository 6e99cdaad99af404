"""Feeds readers into the ingest path in batches; counts outcomes; shows progress on a terminal."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from mailvault.archive.arrival import Arrival
from mailvault.archive.ingest import Ingestor, IngestResult, Outcome, Pending
from mailvault.fileimport.reader import Found, Reader, Unreadable

log = logging.getLogger(__name__)

_BATCH_BYTES = 64 * 1024 * 1024  # bound on raw bytes held in memory per batch
_FAILURES_KEPT = 100
_BATCHES_AHEAD = 2  # submitted batches parsing while the oldest is written


@dataclass
class ImportSummary:
    new: int = 0  # messages the archive did not have
    copies: int = 0  # other copies of messages already archived (another route or mailbox)
    duplicates: int = 0  # exact bytes already archived
    known: int = 0  # this very file or mbox entry was imported before
    flagged: int = 0  # archived, but could not be parsed cleanly (see `mailvault show`)
    failed: int = 0  # files or entries that yielded no message (see failures)
    skipped: int = 0  # files in a folder walk that are not mail
    bytes: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return self.new + self.copies + self.duplicates + self.known

    def count(self, result: IngestResult) -> None:
        match result.outcome:
            case Outcome.NEW:
                self.new += 1
            case Outcome.COPY:
                self.copies += 1
            case Outcome.DUPLICATE:
                self.duplicates += 1
            case Outcome.KNOWN:
                self.known += 1
        if result.flagged and result.outcome in (Outcome.NEW, Outcome.COPY):
            self.flagged += 1

    def as_dict(self) -> dict[str, object]:
        return {
            "messages": self.messages,
            "new": self.new,
            "copies": self.copies,
            "duplicates": self.duplicates,
            "already_imported": self.known,
            "flagged": self.flagged,
            "failed": self.failed,
            "skipped": self.skipped,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "failures": [{"where": w, "reason": r} for w, r in self.failures],
        }


class _MessagesColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        count = int(task.fields.get("messages", 0))
        rate = count / task.elapsed if task.elapsed else 0.0
        return Text(f"{count:,} msgs {rate:,.0f}/s", style="progress.download")


def run_import(
    ingestor: Ingestor,
    readers: Sequence[Reader],
    *,
    batch_size: int,
    show_progress: bool,
    console: Console | None = None,
) -> ImportSummary:
    summary = ImportSummary()
    started = time.monotonic()
    total = sum(r.total_bytes for r in readers)
    progress = Progress(
        TextColumn("[bold]importing"),
        BarColumn(),
        _MessagesColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not show_progress,
        transient=False,
    )
    batch: list[Arrival] = []
    batch_bytes = 0
    # Later batches are parsed (in the worker processes) while the oldest one is written.
    in_flight: deque[tuple[Pending, int]] = deque()
    with progress:
        task = progress.add_task("import", total=total or None, messages=0)

        def complete(keep: int) -> None:
            while len(in_flight) > keep:
                pending, size = in_flight.popleft()
                for result in ingestor.finish(pending):
                    summary.count(result)
                progress.update(task, advance=size, messages=summary.messages)

        def flush() -> None:
            nonlocal batch, batch_bytes
            if batch:
                in_flight.append((ingestor.submit(batch), batch_bytes))
                complete(keep=_BATCHES_AHEAD)
            batch, batch_bytes = [], 0

        for reader in readers:
            for item in reader:
                if isinstance(item, Found):
                    batch.append(item.arrival)
                    batch_bytes += item.size
                    summary.bytes += item.size
                    if len(batch) >= batch_size or batch_bytes >= _BATCH_BYTES:
                        flush()
                else:
                    _count_unreadable(summary, item)
                    progress.update(task, advance=item.size)
        flush()
        complete(keep=0)
    summary.seconds = time.monotonic() - started
    return summary


def _count_unreadable(summary: ImportSummary, item: Unreadable) -> None:
    if item.reason.startswith("skipped:"):
        summary.skipped += 1
        log.info("%s: %s", item.path, item.reason)
        return
    summary.failed += 1
    log.warning("not imported: %s: %s", item.path, item.reason)
    if len(summary.failures) < _FAILURES_KEPT:
        summary.failures.append((item.path, item.reason))
