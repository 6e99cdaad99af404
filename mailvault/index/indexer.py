"""The indexer: follows the archive in archive-id order and keeps the search index exact.

One writer per index. After each commit is durable (the engine fsyncs it) the indexer records its
position in `position.json` beside the index (written to a temporary file, fsynced, renamed). A
crash between the two re-indexes one batch, which is harmless: documents are replaced by id.

Archive ids come from a sequence, and on PostgreSQL two transactions can commit out of order:
id 7 may appear after id 8 has been indexed. The position is therefore the highest id indexed
plus the ids below it not seen yet (gaps); gaps are looked at again on every pass and given up
after GAP_PATIENCE (a rolled-back transaction burns its id for good).

The index lives in <index_dir>/<engine>-<stamp>/, named by <index_dir>/CURRENT, so `reindex` can
build a new one while searches use the old, then switch in one rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy import func, select

from mailvault.archive import conversations
from mailvault.archive.arrival import utcnow
from mailvault.archive.models import Message
from mailvault.archive.store import Archive
from mailvault.durable import fsync_dir
from mailvault.errors import SearchIndexError
from mailvault.index.document import IndexDocument, load_documents
from mailvault.index.engine import Engine
from mailvault.index.prepare import Preparer
from mailvault.index.whoosh_engine import WhooshEngine

log = logging.getLogger(__name__)

GAP_PATIENCE = 600.0  # seconds an unseen id below the position is waited for
_CURRENT = "CURRENT"
_POSITION = "position.json"


@dataclass
class Position:
    high: int = 0  # every id up to here is indexed, except the gaps
    gaps: dict[int, float] = field(default_factory=dict)  # id -> when first missed (epoch)
    indexed: int = 0  # documents written over the index's life (for status)

    @classmethod
    def read(cls, directory: Path) -> Position | None:
        try:
            data = json.loads((directory / _POSITION).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise SearchIndexError(f"the index position in {directory} is unreadable: {exc}") from exc
        return cls(
            int(data["high"]), {int(k): float(v) for k, v in data["gaps"].items()}, int(data["indexed"])
        )

    def write(self, directory: Path) -> None:
        data = {"high": self.high, "gaps": {str(k): v for k, v in self.gaps.items()}, "indexed": self.indexed}
        _replace_durably(directory / _POSITION, json.dumps(data))


def _replace_durably(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    with temporary.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    fsync_dir(path.parent)


def current_dir(index_root: Path) -> Path | None:
    """The index in use, or None before the first one is built."""
    try:
        name = (index_root / _CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    return index_root / name if name else None


ENGINES = ("whoosh", "tantivy")


def engine_of(directory: Path) -> str:
    """The engine an index folder was built with: its name says (<engine>-<stamp>)."""
    engine = directory.name.partition("-")[0]
    if engine not in ENGINES:
        raise SearchIndexError(f"{directory} is not a mailvault index folder (<engine>-<stamp>)")
    return engine


def open_engine(directory: Path) -> Engine:
    if engine_of(directory) == "tantivy":
        from mailvault.index.tantivy_engine import TantivyEngine

        return TantivyEngine(directory)
    return WhooshEngine(directory)


@dataclass(frozen=True, slots=True)
class IndexStatus:
    directory: Path | None
    engine: str | None
    archived: int
    indexed: int
    position: int
    waiting: int  # archived messages not in the index yet
    lag_seconds: float | None  # since the oldest of them was archived

    def as_dict(self) -> dict[str, object]:
        return {
            "directory": str(self.directory) if self.directory else None,
            "engine": self.engine,
            "archived": self.archived,
            "indexed": self.indexed,
            "position": self.position,
            "waiting": self.waiting,
            "lag_seconds": self.lag_seconds,
        }


class Indexer:
    """Brings one index up to date with the archive; the caller holds the writer lock."""

    def __init__(self, archive: Archive, directory: Path, *, batch_size: int = 500):
        self.archive = archive
        self.directory = directory
        self.engine = open_engine(directory)
        self.batch_size = batch_size
        position = Position.read(directory)
        if position is None and self.engine.document_count():
            raise SearchIndexError(
                f"the index in {directory} has documents but no position: `mailvault reindex` rebuilds it"
            )
        self.position = position or Position()

    def close(self) -> None:
        self.engine.close()

    def waiting(self) -> int:
        """Archived messages past the position (gaps aside): what a catch-up has ahead of it."""
        with self.archive.db.reading() as session:
            query = select(func.count()).select_from(Message).where(Message.archive_id > self.position.high)
            return session.scalar(query) or 0

    def step(self) -> int:
        """Index the next batch (and any gaps that have appeared); return how many were indexed."""
        gaps = sorted(self.position.gaps)
        with self.archive.db.reading() as session:
            found_gaps = (
                list(session.scalars(select(Message.archive_id).where(Message.archive_id.in_(gaps))))
                if gaps
                else []
            )
            # Indexed before threads existed (an archive from an older version): thread them now.
            unthreaded = list(
                session.scalars(
                    select(Message.archive_id)
                    .where(Message.thread_id.is_(None), Message.archive_id <= self.position.high)
                    .order_by(Message.archive_id)
                    .limit(self.batch_size)
                )
            )
        fresh = self._fresh_after(self.position.high)
        ids = sorted(set(found_gaps) | set(fresh) | set(unthreaded))
        if ids:
            self.engine.write(load_documents(self.archive.db, self.archive.blobs, self._threaded(ids)))
        self._advance(fresh, found_gaps, len(ids))
        return len(ids)

    def _fresh_after(self, high: int) -> list[int]:
        with self.archive.db.reading() as session:
            query = (
                select(Message.archive_id)
                .where(Message.archive_id > high)
                .order_by(Message.archive_id)
                .limit(self.batch_size)
            )
            return list(session.scalars(query))

    def _threaded(self, ids: list[int]) -> list[int]:
        """Give these messages their threads first, so the documents carry them; returns them with
        the messages an earlier batch indexed under a thread that has now merged into another."""
        threads = conversations.assign(self.archive.db, ids)
        return ids + sorted(set(threads.moved) - set(ids))

    def _advance(self, fresh: list[int], found_gaps: list[int], written: int) -> None:
        """Record durably that `fresh` (the next ids in order) and `found_gaps` are in the index."""
        now = time.time()
        gaps_left = {
            g: t for g, t in self.position.gaps.items() if g not in found_gaps and now - t < GAP_PATIENCE
        }
        for expired in set(self.position.gaps) - set(gaps_left) - set(found_gaps):
            log.info("archive id %d never appeared; a rolled-back transaction used it", expired)
        if fresh:
            seen = set(fresh)
            gaps_left.update({i: now for i in range(self.position.high + 1, fresh[-1]) if i not in seen})
        if written or gaps_left != self.position.gaps:
            self.position = Position(
                fresh[-1] if fresh else self.position.high, gaps_left, self.position.indexed + written
            )
            self.position.write(self.directory)

    def catch_up(
        self, progress: Callable[[int], None] | None = None, *, preparer: Preparer | None = None
    ) -> int:
        """Index everything archived so far; return how many documents were written. With a
        preparer, its processes read and analyse the next batches while this one writes."""
        total = self._prepared_catch_up(preparer, progress) if preparer is not None else 0
        while count := self.step():
            total += count
            if progress is not None:
                progress(count)
            if count < self.batch_size and not self.position.gaps:
                break
        return total

    def _prepared_catch_up(self, preparer: Preparer, progress: Callable[[int], None] | None) -> int:
        """New mail in order, a few batches in flight. Gaps and unthreaded messages are left to
        step(), which the caller runs after this."""
        total = 0
        in_flight: deque[tuple[list[int], Future[list[IndexDocument]]]] = deque()
        cursor = self.position.high
        depth = preparer.workers + 1  # one batch more than workers, so none of them waits
        try:
            while True:
                while len(in_flight) < depth and (fresh := self._fresh_after(cursor)):
                    in_flight.append((fresh, preparer.submit(self._threaded(fresh))))
                    cursor = fresh[-1]
                if not in_flight:
                    return total
                fresh, documents = in_flight.popleft()
                written = documents.result()
                self.engine.write(written)
                self._advance(fresh, [], len(written))
                total += len(written)
                if progress is not None:
                    progress(len(written))
        finally:
            for _, pending in in_flight:
                pending.cancel()


@contextlib.contextmanager
def writer_lock(index_root: Path, *, wait: bool = True) -> Iterator[TextIO]:
    """One indexer per index root (the live one, or a rebuild's switch)."""
    index_root.mkdir(mode=0o750, parents=True, exist_ok=True)
    with (index_root / "indexer.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise SearchIndexError(
                f"another mailvault indexer is writing the index in {index_root}; wait for it or stop it"
            ) from exc
        yield handle


def new_index_dir(index_root: Path, engine: str) -> Path:
    directory = index_root / f"{engine}-{time.time_ns()}"
    directory.mkdir(mode=0o750, parents=True)
    return directory


def switch_to(index_root: Path, directory: Path) -> None:
    """Make `directory` the index in use, atomically. The index it replaces stays until the next
    switch (searches that opened it go on reading it); older ones are removed."""
    previous = current_dir(index_root)
    _replace_durably(index_root / _CURRENT, directory.name + "\n")
    for old in index_root.iterdir():
        if old.is_dir() and old not in (directory, previous) and "-" in old.name:
            shutil.rmtree(old, ignore_errors=True)


def status(archive: Archive, index_root: Path) -> IndexStatus:
    directory = current_dir(index_root)
    position = Position.read(directory) if directory else None
    indexed = 0
    if directory is not None:
        opened = open_engine(directory)
        try:
            indexed = opened.document_count()
        finally:
            opened.close()
    high = position.high if position else 0
    gaps = list(position.gaps) if position else []
    with archive.db.reading() as session:
        archived = session.scalar(select(func.count()).select_from(Message)) or 0
        pending = (Message.archive_id > high) | Message.archive_id.in_(gaps)
        waiting = session.scalar(select(func.count()).select_from(Message).where(pending)) or 0
        oldest: datetime | None = session.scalar(select(func.min(Message.archived_at)).where(pending))
    lag = (utcnow() - oldest).total_seconds() if oldest is not None else None
    engine = engine_of(directory) if directory else None
    return IndexStatus(directory, engine, archived, indexed, high, waiting, lag)
