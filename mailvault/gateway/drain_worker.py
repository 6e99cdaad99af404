"""The drain worker: a process of its own that archives what the gateway journals.

Why a process: archiving (parsing, blob writes, database) costs more CPU per message than the SMTP
session itself. In the gateway's process it shared the GIL with every session; here it runs on
another core, at a lower CPU priority, so a burst of mail is acknowledged at the speed of the
journal and archived right after it. The spool is durable, so a slow archive never slows the
acknowledgement, and a stopped or crashed drain loses nothing: the next one starts where it left.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import multiprocessing
import os
import signal
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from mailvault.archive.ingest import ParseMap
from mailvault.archive.parsing import parse_pool
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import ArchiveError
from mailvault.gateway.drain import Drainer
from mailvault.gateway.spool_state import SpoolState, SpoolView
from mailvault.log import setup_logging

log = logging.getLogger(__name__)

# Acceptance first: under a burst the drain yields the CPU to the SMTP sessions and catches up after.
NICENESS = 10
# With nothing (or little) new, wait this long before looking again: lets batches form.
POLL_SECONDS = 0.1
_RETRY_MAX = 60.0


def drain_until_closed(settings: Settings, spool_dir: Path, state: SpoolState, lifeline: Connection) -> None:
    """Entry point of the drain process. Returns once the gateway has closed the spool and
    everything in it is archived, when the archive is down at that point, or when the gateway died
    (`lifeline` is the read end of a pipe only the gateway writes to: it reads end-of-file then)."""
    setup_logging(settings.log.level)
    # Stopping is the gateway's call: it closes the spool, we archive the rest and exit.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(NICENESS)
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
            if lifeline.poll():  # end of file: the gateway's end is closed
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
        if lifeline.poll(min(POLL_SECONDS, max(0.0, deadline - time.monotonic()))):
            return


async def supervise(settings: Settings, spool_dir: Path, state: SpoolState) -> None:
    """Run the drain process; restart it if it dies while the gateway runs. Returns when it has
    finished after the spool closed."""
    # forkserver: the process starts without the gateway's threads, sockets and open files.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["mailvault.gateway.drain_worker"])
    delay = 1.0
    while True:
        lifeline, keep = context.Pipe(duplex=False)
        process = context.Process(
            target=drain_until_closed,
            args=(settings, spool_dir, state, lifeline),
            name="mailvault-drain",
            daemon=False,
        )
        try:
            process.start()
            lifeline.close()
            await _exited(process)
        except asyncio.CancelledError:
            process.kill()  # it ignores SIGTERM; the spool keeps what it had not archived
            await asyncio.to_thread(process.join)
            raise
        finally:
            keep.close()
        if process.exitcode == 0 and state.snapshot().closed:
            return
        log.error(
            "the drain worker stopped (exit code %s); journaled mail waits in the spool; restart in %.0f s",
            process.exitcode,
            delay,
        )
        if state.snapshot().closed:
            return  # the next start drains the spool
        await asyncio.sleep(delay)
        delay = min(delay * 2, _RETRY_MAX)


async def _exited(process: BaseProcess) -> None:
    """Wait for the process without holding a thread: its sentinel becomes readable when it exits."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(process.sentinel, done.set_result, None)
    try:
        await done
    finally:
        loop.remove_reader(process.sentinel)
    with contextlib.suppress(Exception):
        process.join()
