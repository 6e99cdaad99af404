"""MIME parsing off the main thread: a pool of processes for bulk import (parsing is CPU-bound)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from mailvault.archive.ingest import ParseMap, parse_in_process
from mailvault.mime import ParsedMessage, parse_message
from mailvault.workers import WorkerPool


@contextmanager
def parse_pool(workers: int) -> Iterator[ParseMap]:
    """A ParseMap over `workers` processes (0: one per CPU; 1: in this process)."""
    count = workers or os.cpu_count() or 1
    if count <= 1:
        yield parse_in_process
        return
    # Workers fork from a server that has already imported the parser: they start in milliseconds
    # (forkserver: without this process's threads and open files); they end when this one does.
    with WorkerPool(count, preload=["mailvault.mime"]) as pool:

        def parse_map(raws: list[bytes]) -> Iterable[ParsedMessage]:
            chunk = max(1, len(raws) // (count * 4))
            return pool.executor.map(parse_message, raws, chunksize=chunk)

        yield parse_map
