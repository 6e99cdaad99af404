"""Keeping the index: update once, follow the archive, rebuild beside the live index, repair."""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import SearchIndexError
from mailvault.index.engine import Engine
from mailvault.index.indexer import (
    Indexer,
    current_dir,
    new_index_dir,
    open_engine,
    status,
    switch_to,
    writer_lock,
)
from mailvault.index.prepare import BATCHES_FOR_WORKERS, Preparer, worker_count

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
IDLE_BEFORE_MERGE = 60.0  # seconds without new mail before the follower merges segments
# Archive sizes up to which an engine answers 95 % of searches within 300 ms on a 2-core machine
# (bench/search.py, BENCHMARKS.md): beyond it, search slows down roughly in proportion. Whoosh:
# p95 136 ms at 3,000 messages, 381 ms (merged) to 1,031 ms (as indexed) at 30,000. tantivy: p95 45.8 ms
# measured at 1,000,000 (the size; not measured beyond).
WITHIN_TARGET = {"whoosh": 7_000, "tantivy": 1_000_000}


def capacity_warning(engine: str, archived: int) -> str | None:
    """A line for the administrator when the archive outgrew the engine, else None."""
    limit = WITHIN_TARGET.get(engine)
    if limit is None or archived <= limit:
        return None
    advice = " `mailvault reindex --engine tantivy` switches" if engine != "tantivy" else ""
    return (
        f"the archive holds {archived:,} messages; the {engine} engine answers searches in time up to "
        f"about {limit:,}, slower beyond.{advice}"
    )


def update(
    settings: Settings, archive: Archive, progress: Progress | None = None, *, wait: bool = True
) -> int:
    """Bring the index up to date (creating it, or rebuilding a damaged one); return documents written."""
    root = settings.resolved_index_dir
    with writer_lock(root, wait=wait):
        indexer = _open_or_repair(settings, archive, root)
        try:
            with _preparer(settings, indexer) as preparer:
                return indexer.catch_up(progress, preparer=preparer)
        finally:
            indexer.close()


@contextlib.contextmanager
def _preparer(settings: Settings, indexer: Indexer) -> Iterator[Preparer | None]:
    """Worker processes for a catch-up long enough to gain from them (on more than one core)."""
    if worker_count(settings) < 2 or indexer.waiting() < BATCHES_FOR_WORKERS * indexer.batch_size:
        yield None
        return
    with Preparer(settings, with_tokens=indexer.engine.takes_tokens) as preparer:
        yield preparer


def _open_or_repair(settings: Settings, archive: Archive, root: Path) -> Indexer:
    """The indexer of the index in use; a missing index is created, a damaged one rebuilt."""
    directory = current_dir(root)
    if directory is not None:
        try:
            return Indexer(archive, directory, batch_size=settings.index.batch_size)
        except SearchIndexError as exc:
            log.warning("%s; rebuilding the index from the archive", exc)
    directory = new_index_dir(root, settings.index.engine)
    indexer = Indexer(archive, directory, batch_size=settings.index.batch_size)
    switch_to(root, directory)
    return indexer


def rebuild(
    settings: Settings, archive: Archive, progress: Progress | None = None, *, engine: str | None = None
) -> int:
    """Build a new index from the whole archive (with `engine`, else the configured one) while
    searches and the live indexer use the old one, then switch to it. Returns documents indexed."""
    root = settings.resolved_index_dir
    root.mkdir(mode=0o750, parents=True, exist_ok=True)
    directory = new_index_dir(root, engine or settings.index.engine)
    indexer = Indexer(archive, directory, batch_size=settings.index.batch_size)
    try:
        with _preparer(settings, indexer) as preparer:
            total = indexer.catch_up(progress, preparer=preparer)
        indexer.engine.optimize()  # one segment before it serves: searches are several times faster
        with writer_lock(root):  # the live indexer pauses while the last messages go in
            total += indexer.catch_up(progress)
            switch_to(root, directory)
    except BaseException:
        indexer.close()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    indexer.close()
    return total


def follow(settings: Settings, archive: Archive, stop: threading.Event) -> None:
    """Keep the index up to date until `stop` is set: new mail is searchable within seconds."""
    root = settings.resolved_index_dir
    indexer: Indexer | None = None
    idle_since = time.monotonic()
    merged = True
    try:
        while not stop.is_set():
            with writer_lock(root):
                if indexer is None or current_dir(root) != indexer.directory:
                    if indexer is not None:
                        indexer.close()  # a rebuild switched the index
                    indexer = _open_or_repair(settings, archive, root)
                    _warn_if_outgrown(indexer, archive)
                with _preparer(settings, indexer) as preparer:  # after an outage, say
                    written = indexer.catch_up(preparer=preparer)
                if written:
                    idle_since, merged = time.monotonic(), False
                elif not merged and time.monotonic() - idle_since > IDLE_BEFORE_MERGE:
                    indexer.engine.optimize()
                    merged = True
            if not written:
                stop.wait(settings.index.poll_interval)
    finally:
        if indexer is not None:
            indexer.close()


def open_for_search(settings: Settings) -> Engine:
    directory = current_dir(settings.resolved_index_dir)
    if directory is None:
        raise SearchIndexError("there is no search index yet: `mailvault index update` builds it")
    return open_engine(directory)


def _warn_if_outgrown(indexer: Indexer, archive: Archive) -> None:
    warning = capacity_warning(indexer.engine.name, status(archive, indexer.directory.parent).archived)
    if warning:
        log.warning("%s", warning)
