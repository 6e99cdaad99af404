"""What a file reader yields: a message to archive, or a file that could not be read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mailvault.archive.arrival import Arrival


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A file or mbox entry that yielded no message; counted and reported, never silent."""

    path: str
    reason: str
    size: int = 0  # bytes consumed, for progress


@dataclass(frozen=True, slots=True)
class Found:
    arrival: Arrival
    size: int  # bytes consumed from the input, for progress


Item = Found | Unreadable


class Reader(Protocol):
    """One kind of mail file. `total_bytes` is known before reading, for progress and ETA."""

    total_bytes: int

    def __iter__(self) -> Iterator[Item]: ...


def read_limited(path: Path, limit: int) -> bytes | Unreadable:
    """The file's bytes, or why they could not be read (too large, permissions, gone)."""
    try:
        size = path.stat().st_size
        if size > limit:
            return Unreadable(
                str(path), f"larger than [ingest] max_message_size ({size} > {limit} bytes)", size
            )
        return path.read_bytes()
    except OSError as exc:
        return Unreadable(str(path), exc.strerror or str(exc))
