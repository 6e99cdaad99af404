"""MIME parsing off the main thread: a pool of processes for bulk import (parsing is CPU-bound)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

from mailvault.archive.ingest import ParseMap, parse_in_process
from mailvault.mime import ParsedMessage, parse_message


@contextmanager
def parse_pool(workers: int) -> Iterator[ParseMap]:
    """A ParseMap over `workers` processes (0: one per CPU; 1: in this process)."""
    count = workers or os.cpu_count() or 1
    if count <= 1:
        yield parse_in_process
        return
    # forkserver: children do not inherit this process's threads and open files.
    context = multiprocessing.get_context("forkserver")
    # Workers fork from a server that has already imported the parser: they start in milliseconds.
    context.set_forkserver_preload(["mailvault.mime"])
    with ProcessPoolExecutor(count, mp_context=context) as pool:

        def parse_map(raws: list[bytes]) -> Iterable[ParsedMessage]:
            chunk = max(1, len(raws) // (count * 4))
            return pool.map(parse_message, raws, chunksize=chunk)

        yield parse_map
