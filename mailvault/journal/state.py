"""What the gateway process tells its drain process about the spool, and the drain's view of it.

The gateway appends; a separate drain process archives (drain_worker.py). The drain must never
read bytes that are not yet durable in the segment being written, and must never remove that
segment. Segment names start with a nanosecond stamp that only grows within a run and is above
every segment of earlier runs, so three numbers in shared memory tell the drain all it needs:
the stamp at which this run started, the stamp of the segment being written and how many of its
bytes are durable, and whether the spool is closed.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from multiprocessing.sharedctypes import SynchronizedArray
from pathlib import Path
from typing import Any

from mailvault.durable import fsync_dir

SUFFIX = ".spool"
_STARTED, _ACTIVE, _DURABLE, _CLOSED = range(4)


def segment_name(stamp: int, pid: int) -> str:
    return f"{stamp:020d}-{pid}{SUFFIX}"


def segment_stamp(segment: Path) -> int:
    """The creation stamp in a segment's name; 0 for a name not written by the spool."""
    stamp, _, _ = segment.name.partition("-")
    return int(stamp) if stamp.isdigit() else 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    started: int  # stamps below this belong to earlier runs: finished
    active: int  # stamp of the segment being written; 0 before the first one
    durable: int  # bytes of the active segment that are fsynced
    closed: bool  # nothing will be written any more


class SpoolState:
    """Shared between the gateway (writes) and the drain process (reads); picklable for spawn."""

    def __init__(self) -> None:
        self._values: SynchronizedArray[Any] = multiprocessing.get_context("spawn").Array("q", 4)

    def start(self, stamp: int) -> None:
        with self._values.get_lock():
            self._values[_STARTED] = stamp

    def publish(self, active: int, durable: int) -> None:
        with self._values.get_lock():
            self._values[_ACTIVE] = active
            self._values[_DURABLE] = durable

    def close(self) -> None:
        with self._values.get_lock():
            self._values[_CLOSED] = 1

    def snapshot(self) -> Snapshot:
        with self._values.get_lock():
            started, active, durable, closed = self._values[:]
        return Snapshot(started, active, durable, bool(closed))


def segment_bytes(directory: Path) -> int:
    """Bytes of journal segments in `directory` and below: mail durable and not yet archived,
    plus archived records of segments not removed yet (a running gateway's current one)."""
    if not directory.is_dir():
        return 0
    return sum(p.stat().st_size for p in directory.rglob(f"*{SUFFIX}"))


class SpoolView:
    """The drain's side: which segments exist, which are finished, how far the active one may be read."""

    def __init__(self, directory: Path, state: SpoolState) -> None:
        self.directory = directory
        self.state = state

    def segments(self) -> list[Path]:
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(SUFFIX))

    def is_active(self, segment: Path) -> bool:
        """True for the segment being written and for one created but not yet announced."""
        now = self.state.snapshot()
        stamp = segment_stamp(segment)
        return not now.closed and stamp >= now.started and stamp >= now.active

    def durable_size(self, segment: Path) -> int | None:
        """Bytes of the active segment known durable; None for finished segments (read them whole)."""
        now = self.state.snapshot()
        if now.active and segment_stamp(segment) == now.active:
            return now.durable
        return None

    def remove(self, segment: Path) -> None:
        """Delete a finished segment every record of which is archived."""
        if self.is_active(segment):
            return
        segment.unlink(missing_ok=True)
        fsync_dir(self.directory)

    def set_aside(self, segment: Path) -> Path:
        """Keep a damaged segment under another name, for an administrator to look at."""
        kept = segment.with_name(segment.name + ".damaged")
        segment.rename(kept)
        fsync_dir(self.directory)
        return kept
