"""An account's import journal: downloaded mail is secured here before the checkpoint moves.

Each window of messages is appended to the account's own receive journal (the gateway's format,
one write and one fsync for the window) and only then does the folder's checkpoint advance, so an
interrupted import never asks for those messages again and never loses them. A drain thread
archives the journal through the one ingest path while the download goes on (parsing runs in the
parse workers), and the run ends when everything is archived. Securing is as fast as the
download; archiving is the archive's pace, and the journal holds the difference, up to
`[imap] journal_backlog` bytes before downloading pauses. A run that stops early leaves its
journal behind; the next run of the account archives it before it plans anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TextIO

from mailvault.archive.arrival import Arrival
from mailvault.archive.ingest import IngestResult
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import ImapSyncError
from mailvault.journal.drain import Archived, Drainer
from mailvault.journal.spool import Spool, SpoolError, lock_file
from mailvault.journal.state import SpoolView

SEGMENT_SIZE = 16 * 1024 * 1024  # the drain reads a segment's new records at once: bounds its memory
_IDLE = 0.05  # seconds the download waits for room in the journal
_GATHER = 0.2  # seconds the drain waits after a pass that found little to do


def journal_dir(settings: Settings, account: str) -> Path:
    """The account's journal folder: a readable name, made unique by a hash of the exact one."""
    readable = re.sub(r"[^A-Za-z0-9@._-]+", "_", account)[:80]
    digest = hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return settings.resolved_imap_journal_dir / f"{readable}-{digest}"


class ImportJournal:
    def __init__(self, archive: Archive, settings: Settings, account: str, on_archived: Archived) -> None:
        self.directory = journal_dir(settings, account)
        self.account = account
        self.backlog_limit = settings.imap.journal_backlog
        self._archive = archive
        self._batch_size = settings.ingest.batch_size
        self._on_archived = on_archived
        self._run_lock: TextIO | None = None
        self._spool: Spool | None = None
        self._drainer: Drainer | None = None
        self._drain: asyncio.Future[None] | None = None
        self._stop = threading.Event()
        self._secured_bytes = 0
        self._archived_bytes = 0  # written by the drain thread; read here to pace the download

    async def __aenter__(self) -> ImportJournal:
        try:
            self.directory.mkdir(mode=0o750, parents=True, exist_ok=True)
            # Held for the whole run, drain included: one import of an account at a time.
            self._run_lock = lock_file(
                self.directory / ".import-lock",
                f"another import of {self.account} is running (its journal {self.directory} is in use): "
                "wait for it to finish",
            )
        except SpoolError as exc:
            raise ImapSyncError(str(exc), account=self.account) from None
        except OSError as exc:
            raise ImapSyncError(
                f"cannot open the import journal {self.directory}: {exc.strerror}", account=self.account
            ) from None
        try:
            self._spool = Spool(self.directory, SEGMENT_SIZE)
        except BaseException:
            self._run_lock.close()  # __aexit__ does not run when __aenter__ fails
            raise
        self._drainer = Drainer(
            SpoolView(self.directory, self._spool.state),
            self._archive.ingestor,
            batch_size=self._batch_size,
            on_archived=self._counted,
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._drain is not None:
            await asyncio.gather(self._drain, return_exceptions=True)
        if self._spool is not None:
            await self._spool.close()
        if self._run_lock is not None:
            self._run_lock.close()

    async def archive_leftovers(self) -> None:
        """Archive what an earlier run secured but did not archive (it stopped or crashed)."""
        await asyncio.to_thread(self._drainer_or_fail().drain)

    def start(self) -> asyncio.Future[None]:
        """Start archiving from the journal while messages are secured; the future fails if the
        archive does (the download should then stop)."""
        self._drain = asyncio.ensure_future(asyncio.to_thread(self._drain_until_closed))
        return self._drain

    async def secure(self, arrivals: Sequence[Arrival]) -> None:
        """Append these messages; returns once they are durable (then move the checkpoint)."""
        spool = self._spool_or_fail()
        # The archive is behind: let it catch up (it counts in another thread, so this polls).
        while self.backlog > self.backlog_limit and not self._archiving_stopped():  # noqa: ASYNC110
            await asyncio.sleep(_IDLE)
        await asyncio.gather(*(spool.append({"source": a.source.as_record()}, a.raw) for a in arrivals))
        self._secured_bytes += sum(len(a.raw) for a in arrivals)

    async def finish(self) -> None:
        """Close the journal and wait until everything in it is archived."""
        await self._spool_or_fail().close()
        if self._drain is not None:
            await self._drain

    def _archiving_stopped(self) -> bool:
        return self._drain is not None and self._drain.done()

    @property
    def backlog(self) -> int:
        """Bytes secured in this run and not yet archived."""
        return max(0, self._secured_bytes - self._archived_bytes)

    def _counted(self, arrivals: Sequence[Arrival], results: Sequence[IngestResult]) -> None:
        self._archived_bytes += sum(len(a.raw) for a in arrivals)
        self._on_archived(arrivals, results)

    def _drain_until_closed(self) -> None:
        """The drain thread: archive what is durable until the journal is closed and empty."""
        drainer, spool = self._drainer_or_fail(), self._spool_or_fail()
        while not self._stop.is_set():
            closed = spool.state.snapshot().closed  # read before the pass, so the last pass sees all
            archived = drainer.drain()
            if closed:
                return
            if archived < 4 * self._batch_size:
                time.sleep(_GATHER)  # let a few batches gather: they are parsed while others are written

    def _spool_or_fail(self) -> Spool:
        if self._spool is None:
            raise RuntimeError("internal error: the import journal is not open")
        return self._spool

    def _drainer_or_fail(self) -> Drainer:
        if self._drainer is None:
            raise RuntimeError("internal error: the import journal is not open")
        return self._drainer
