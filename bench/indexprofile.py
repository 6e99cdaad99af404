"""Where indexing time goes: cProfile of mailvault's indexer on a fresh index, summed into parts.

Used by bench/search.py; the parts are the indexer's own steps (reading the archive and parsing
the raw mail, our analysis, Whoosh's add and commit, the fsyncs), so the limit is named.
"""

from __future__ import annotations

import cProfile
import math
import pstats
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailvault.archive.store import Archive
from mailvault.index.indexer import Indexer

_Key = tuple[str, int, str]  # (file, line, function), as pstats keys its entries

# (label, file suffix, function): cumulative time of each; nested parts are marked "  of which".
PARTS = [
    ("load_documents: archive rows + raw mail", "mailvault/index/document.py", "load_documents"),
    ("  of which MIME parsing (mime.parse_message)", "mailvault/mime/parse.py", "parse_message"),
    ("  of which blob reads (+ zstd)", "mailvault/archive/blobs.py", "get"),
    ("engine write: add, commit, fsync (Engine.write)", "_engine.py", "write"),
    ("  of which our analysis (analysis.analyze)", "mailvault/index/analysis.py", "analyze"),
    ("  of which Whoosh update_document (analysis included)", "whoosh/writing.py", "update_document"),
    ("  of which Whoosh: a searcher to find the old copy", "whoosh/writing.py", "searcher"),
    ("  of which Whoosh: looking the old copy up", "whoosh/searching.py", "_find_unique"),
    ("  of which Whoosh commit (write the segment)", "whoosh/writing.py", "commit"),
    ("  of which fsync of the commit (_sync)", "_engine.py", "_sync"),
    ("index position (position.json, fsynced)", "mailvault/index/indexer.py", "write"),
]
TOP_LEVEL = (0, 3, 10)  # the parts that do not overlap: the rest is "other"


@dataclass
class Entry:
    function: str  # file:line(name), shortened
    calls: int
    self_seconds: float
    cumulative_seconds: float


@dataclass
class IndexProfile:
    documents: int
    wall_seconds: float  # profiled: cProfile slows pure-Python code down
    cpu_seconds: float
    parts: list[tuple[str, float]] = field(default_factory=list)  # (label, seconds)
    top_cumulative: list[Entry] = field(default_factory=list)
    top_self: list[Entry] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "wall_seconds": round(self.wall_seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "parts": [
                {"part": label.strip(), "seconds": round(seconds, 3), "share": round(self.share(seconds), 4)}
                for label, seconds in self.parts
            ],
            "top_cumulative": [vars(e) for e in self.top_cumulative],
            "top_self": [vars(e) for e in self.top_self],
        }

    def share(self, seconds: float) -> float:
        return seconds / self.wall_seconds if self.wall_seconds else 0.0


def profile_indexing(archive: Archive, directory: Path, documents: int, batch_size: int) -> IndexProfile:
    """Index the archive's first `documents` messages (whole batches) into a new index in
    `directory` under cProfile, as `mailvault reindex` does: Indexer.step, one batch a commit."""
    indexer = Indexer(archive, directory, batch_size=batch_size)
    profiler = cProfile.Profile()
    try:
        started, cpu = time.perf_counter(), time.process_time()
        profiler.enable()
        for _ in range(math.ceil(documents / batch_size)):
            indexer.batch_size = min(batch_size, documents - indexer.position.indexed)
            if not indexer.step():
                break
        profiler.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        indexed = indexer.position.indexed
    finally:
        indexer.close()
    stats = pstats.Stats(profiler)
    raw: dict[_Key, tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    result = IndexProfile(indexed, wall, cpu)
    for label, suffix, name in PARTS:
        result.parts.append((label, _cumulative(raw, suffix, name)))
    accounted = sum(result.parts[i][1] for i in TOP_LEVEL)
    result.parts.append(("other (SQL for the ids, gaps)", max(0.0, wall - accounted)))
    entries = [Entry(_short(key), calls, self_s, cum_s) for key, (_, calls, self_s, cum_s, _) in raw.items()]
    result.top_cumulative = sorted(entries, key=lambda e: -e.cumulative_seconds)[:25]
    result.top_self = sorted(entries, key=lambda e: -e.self_seconds)[:20]
    return result


def _cumulative(raw: dict[_Key, tuple[int, int, float, float, Any]], suffix: str, name: str) -> float:
    """Cumulative seconds of a function (the largest, if a name repeats in one file)."""
    found = [
        value[3]
        for (path, _line, function), value in raw.items()
        if function == name and path.endswith(suffix)
    ]
    return max(found, default=0.0)


def _short(key: _Key) -> str:
    path, line, name = key
    if path == "~":
        return name  # a built-in
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{line}({name})"


def print_profile(profile: IndexProfile) -> None:
    per_doc = 1000 / profile.documents if profile.documents else 0.0
    print(
        f"profile of indexing {profile.documents:,} messages into a new index (cProfile, wall clock; "
        f"{profile.wall_seconds:.1f} s profiled, {profile.cpu_seconds:.1f} s CPU)"
    )
    for label, seconds in profile.parts:
        if not seconds:
            continue  # another engine's part
        print(f"  {label:<56}{seconds:>8.2f} s{seconds * per_doc:>8.2f} ms/msg{profile.share(seconds):>7.1%}")
    print("  top entries by cumulative time:")
    for entry in profile.top_cumulative[:15]:
        print(f"    {entry.cumulative_seconds:>8.2f} s {entry.calls:>9,}  {entry.function}")
    print("  top entries by own time:")
    for entry in profile.top_self[:15]:
        print(f"    {entry.self_seconds:>8.2f} s {entry.calls:>9,}  {entry.function}")
