"""Bursts: at least N distinct messages within H hours, found in a series of dated events.

Windows start at an event and never overlap one another or a window signalled before, so a
replay, or a scan that sees the same events again from another starting point, raises nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime
    ref: int  # what happened: an archive id (a forward) or a source id (a vanished location)
    archive_id: int


@dataclass(frozen=True, slots=True)
class Burst:
    events: list[Event]

    @property
    def start(self) -> datetime:
        return self.events[0].at

    @property
    def end(self) -> datetime:
        return self.events[-1].at

    @property
    def archive_ids(self) -> list[int]:
        return sorted({e.archive_id for e in self.events})

    def window_detail(self) -> dict[str, Any]:
        return {"window_start": self.start.isoformat(), "window_end": self.end.isoformat()}


def taken_windows(details: Iterable[dict[str, Any]]) -> list[tuple[datetime, datetime]]:
    """The windows of signals stored before, read back from their detail."""
    spans = []
    for detail in details:
        try:
            spans.append(
                (datetime.fromisoformat(detail["window_start"]), datetime.fromisoformat(detail["window_end"]))
            )
        except (KeyError, TypeError, ValueError):
            continue
    return spans


def bursts(
    events: Sequence[Event], *, threshold: int, hours: float, taken: list[tuple[datetime, datetime]]
) -> list[Burst]:
    """Non-overlapping windows of at most `hours`, each with at least `threshold` distinct
    messages, earliest first; `taken` (windows signalled before) is extended with the new ones."""
    ordered = sorted(set(events), key=lambda e: (e.at, e.ref))
    span = timedelta(hours=hours)
    found: list[Burst] = []
    i = 0
    while i < len(ordered):
        anchor = ordered[i]
        j = i
        while j + 1 < len(ordered) and ordered[j + 1].at <= anchor.at + span:
            j += 1
        window = ordered[i : j + 1]
        start, end = window[0].at, window[-1].at
        overlaps = any(start <= t_end and t_start <= end for t_start, t_end in taken)
        if len({e.archive_id for e in window}) >= threshold and not overlaps:
            found.append(Burst(window))
            taken.append((start, end))
            i = j + 1
        else:
            i += 1
    return found
