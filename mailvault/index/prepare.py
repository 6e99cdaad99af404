"""Preparing index documents in worker processes, for a large catch-up or a rebuild.

Reading a message back, parsing it and analysing its text is most of the cost of indexing
(BENCHMARKS.md: about 70 % with tantivy) and needs no index, so a bulk catch-up hands it to a
pool of processes while the one writer commits the batches they finished. Only the writer
touches the index; the workers only read the archive.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.connection import Connection
from types import TracebackType

from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.index.document import IndexDocument, load_documents
from mailvault.index.fields import field_tokens
from mailvault.workers import lifeline_closed

# Batches a catch-up must have ahead of it before a pool is worth starting.
BATCHES_FOR_WORKERS = 4

_archive: Archive | None = None  # a worker's own connection to the archive


def worker_count(settings: Settings) -> int:
    return settings.index.workers or os.cpu_count() or 1


def analysed(documents: list[IndexDocument]) -> list[IndexDocument]:
    """The documents with their text fields' tokens attached (for engines that take tokens)."""
    for doc in documents:
        doc.tokens = field_tokens(doc)
    return documents


def _open_archive(settings: Settings, lifeline: Connection) -> None:
    global _archive
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the writer's to handle: it stops the pool
    # A pool's workers wait for work forever, even once the writer is killed: the lifeline ends them.
    threading.Thread(target=_exit_when_closed, args=(lifeline,), daemon=True).start()
    _archive = Archive(settings)


def _exit_when_closed(lifeline: Connection) -> None:
    lifeline_closed(lifeline, None)
    os._exit(1)


def _prepare(archive_ids: Sequence[int], with_tokens: bool) -> list[IndexDocument]:
    if _archive is None:
        raise RuntimeError("_prepare runs in a Preparer's worker, whose initializer opens the archive")
    documents = load_documents(_archive.db, _archive.blobs, archive_ids)
    return analysed(documents) if with_tokens else documents


class Preparer:
    """A pool of processes turning archive ids into index documents, in the order asked."""

    def __init__(self, settings: Settings, *, with_tokens: bool, workers: int | None = None) -> None:
        self.with_tokens = with_tokens
        self.workers = workers or worker_count(settings)
        context = multiprocessing.get_context("forkserver")
        lifeline, self._lifeline = context.Pipe(duplex=False)  # we hold the end that closes
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_open_archive, initargs=(settings, lifeline)
        )

    def submit(self, archive_ids: Sequence[int]) -> Future[list[IndexDocument]]:
        return self._pool.submit(_prepare, list(archive_ids), self.with_tokens)

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
        self._lifeline.close()

    def __enter__(self) -> Preparer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
