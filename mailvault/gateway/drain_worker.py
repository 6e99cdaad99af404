"""The drain worker: a process of its own that archives what the gateway journals.

Why a process: archiving (parsing, blob writes, database) costs more CPU per message than the SMTP
session itself. In the gateway's process it shared the GIL with every session; here it runs on
another core, at a lower CPU priority, so a burst of mail is acknowledged at the speed of the
journal and archived right after it. The spool is durable, so a slow archive never slows the
acknowledgement, and a stopped or crashed drain loses nothing: the next one starts where it left.
"""

from __future__ import annotations

import fcntl
import logging
import time
from multiprocessing.connection import Connection
from pathlib import Path

from mailvault.archive.ingest import ParseMap
from mailvault.archive.parsing import parse_pool
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import ArchiveError
from mailvault.journal.drain import Drainer
from mailvault.journal.state import SpoolState, SpoolView
from mailvault.workers import become_worker, lifeline_closed

log = logging.getLogger(__name__)

# With nothing (or little) new, wait this long before looking again: lets batches form.
POLL_SECONDS = 0.1
_RETRY_MAX = 60.0


def drain_until_closed(settings: Settings, spool_dir: Path, state: SpoolState, lifeline: Connection) -> None:
    """Entry point of the drain process (see workers.supervise). Returns once the gateway has
    closed the spool and everything in it is archived, when the archive is down at that point, or
    when the gateway died (its end of `lifeline` closed)."""
    become_worker(settings)
    with (spool_dir / ".drain-lock").open("a") as lock:
        # A drain left over from a gateway that was killed may still be finishing a batch.
        fcntl.flock(lock, fcntl.LOCK_EX)
        with parse_pool(settings.ingest.parse_workers) as parse_map:
            _drain_loop(settings, SpoolView(spool_dir, state), parse_map, lifeline)


def _drain_loop(settings: Settings, view: SpoolView, parse_map: ParseMap, lifeline: Connection) -> None:
    archive: Archive | None = None
    drainer: Drainer | None = None
    delay = 1.0
    batch = settings.ingest.batch_size
    try:
        while True:
            if lifeline_closed(lifeline):
                log.warning("the gateway is gone; the next start archives what is left in the spool")
                return
            closed = view.state.snapshot().closed  # read before the pass, so the last pass sees all
            try:
                if archive is None or drainer is None:
                    archive = Archive(settings, parse_map=parse_map)
                    drainer = Drainer(view, archive.ingestor, batch_size=batch)
                archived = drainer.drain()
                delay = 1.0
            except ArchiveError as exc:
                log.error(
                    "archive unavailable (%s); journaled mail waits in the spool, retry in %.0f s", exc, delay
                )
                if archive is not None:
                    archive.close()
                archive = drainer = None
                if closed:
                    return
                _sleep_unless_closed(view.state, delay, lifeline)
                delay = min(delay * 2, _RETRY_MAX)
                continue
            if closed:
                return
            if archived < batch:
                time.sleep(POLL_SECONDS)
    finally:
        if archive is not None:
            archive.close()


def _sleep_unless_closed(state: SpoolState, seconds: float, lifeline: Connection) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not state.snapshot().closed:
        if lifeline_closed(lifeline, min(POLL_SECONDS, max(0.0, deadline - time.monotonic()))):
            return
