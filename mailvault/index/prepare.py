"""Preparing index documents in worker processes, for a large catch-up or a rebuild.

Reading a message back, parsing it and analysing its text is most of the cost of indexing
(BENCHMARKS.md: about 70 % with tantivy) and needs no index, so a bulk catch-up hands it to a
pool of processes while the one writer commits the batches they finished. Only the writer
touches the index; the workers only read the archive.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future
from types import TracebackType

from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.index.document import IndexDocument, load_documents
from mailvault.index.fields import field_tokens
from mailvault.workers import WorkerPool

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


def _open_archive(settings: Settings) -> None:
    global _archive
    _archive = Archive(settings)


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
        self._pool = WorkerPool(self.workers, initializer=_open_archive, initargs=(settings,))

    def submit(self, archive_ids: Sequence[int]) -> Future[list[IndexDocument]]:
        return self._pool.executor.submit(_prepare, list(archive_ids), self.with_tokens)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Preparer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
