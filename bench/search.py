"""Search benchmark (issue 4): indexing rate, index size and query latency of mailvault's search index,
with SQLite FTS5 over the same tokens as the reference, in the same run.

Generates mail with bench/mailgen.py, imports it with `mailvault import mbox` (timed apart), then:
a full reindex (manage.rebuild) and an FTS5 index of the same documents; the queries of
bench/search_queries.txt on both, warm; an incremental catch-up (manage.update) after importing a
few per cent more, and the live indexer's loop (manage.follow) replayed against mail arriving at
50 messages/s; a cProfile of indexing, whose small index gives the queries a second size. Prints
the figures against the targets: p95 < 300 ms, incremental >= 50 messages/s with under 10 s lag,
and a full reindex within 2 hours, all at 1,000,000 messages.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__" and not __package__:
    # Run as `python bench/search.py` from anywhere: make the `bench` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

import mailvault
from bench.fts5 import Fts5Index, WriteTimes
from bench.indexprofile import IndexProfile, print_profile, profile_indexing
from bench.ingest import filesystem_of, find_mailvault, mailvault_version
from bench.mailgen import Generated, asctime, generate_with_envelope, write_mbox
from mailvault.archive.models import Message
from mailvault.archive.store import Archive
from mailvault.config import Settings, load_settings
from mailvault.index import manage, prepare
from mailvault.index.document import load_documents
from mailvault.index.engine import Engine, Sort
from mailvault.index.indexer import Indexer, current_dir, open_engine, writer_lock
from mailvault.index.query import parse
from mailvault.index.search import search as full_search

QUERIES = Path(__file__).with_name("search_queries.txt")
COMPANY_DOMAIN = "huaqiang-elec.com.cn"  # the sender domain of mailgen's own staff
PAGE = 20  # results on the first page
LIVE_RATE = 50.0  # messages/s arriving while the live indexer follows the archive

TARGET_MESSAGES = 1_000_000
TARGET_P95_MS = 300.0
TARGET_INCREMENTAL = 50.0  # documents/s
TARGET_LAG = 10.0  # seconds from archived to searchable
TARGET_REINDEX = 2 * 3600.0  # seconds for TARGET_MESSAGES
MB = 1_000_000


@dataclass(frozen=True, slots=True)
class Query:
    sort: Sort
    text: str


def load_queries(path: Path) -> list[Query]:
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        sort, _, text = line.partition(" ")
        if sort not in ("date", "relevance") or not text.strip():
            sys.exit(f"bench: {path}:{number}: expected 'date|relevance QUERY', got {line!r}")
        queries.append(Query(Sort(sort), text.strip()))
    return queries


@dataclass
class Latency:
    """One engine's pass over the query set: hits per query (warm-up pass) and timed samples."""

    label: str
    hits: list[int]
    samples: list[list[float]]  # per query, milliseconds, one per timed pass

    def pooled(self) -> list[float]:
        return [ms for per_query in self.samples for ms in per_query]

    def summary(self) -> dict[str, float]:
        pooled = self.pooled()
        return {
            "p50_ms": round(percentile(pooled, 50), 2),
            "p95_ms": round(percentile(pooled, 95), 2),
            "max_ms": round(max(pooled, default=0.0), 2),
            "mean_ms": round(sum(pooled) / len(pooled), 2) if pooled else 0.0,
        }

    def medians(self) -> list[float]:
        return [percentile(per_query, 50) for per_query in self.samples]


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def measure(
    label: str, queries: list[Query], run: Callable[[Query], int], passes: int, *, warm_up: bool = True
) -> Latency:
    """A warm-up pass, then `passes` timed passes over all queries; hits from the first pass."""
    print(f"  queries: {label} ...", file=sys.stderr, flush=True)
    hits = [run(query) for query in queries] if warm_up else []
    samples: list[list[float]] = [[] for _ in queries]
    for _ in range(passes):
        for i, query in enumerate(queries):
            started = time.perf_counter()
            total = run(query)
            samples[i].append((time.perf_counter() - started) * 1000)
            if len(hits) < len(queries):
                hits.append(total)
    return Latency(label, hits, samples)


def engine_runner(engine: Engine) -> Callable[[Query], int]:
    def run(query: Query) -> int:
        return engine.search(parse(query.text), sort=query.sort, offset=0, limit=PAGE).total

    return run


def fts5_runner(index: Fts5Index) -> Callable[[Query], int]:
    def run(query: Query) -> int:
        return index.search(parse(query.text), query.sort, PAGE)[0]

    return run


def full_runner(archive: Archive, engine: Engine) -> Callable[[Query], int]:
    def run(query: Query) -> int:
        return full_search(archive, engine, query.text, sort=query.sort, offset=0, limit=PAGE).total

    return run


# ---------------------------------------------------------------------------------------------
# Mail, archive and sizes.

_FROM_LINE = re.compile(rb"^From ", re.MULTILINE)


def write_messages(path: Path, messages: Iterable[Generated]) -> int:
    """An mbox of these messages, as bench/mailgen.py writes it; returns the raw bytes."""
    total = 0
    with path.open("wb") as out:
        for generated in messages:
            raw = _FROM_LINE.sub(b">From ", generated.raw)
            out.write(f"From {generated.sender} {asctime(generated.epoch)}\n".encode())
            out.write(raw)
            out.write(b"\n")
            total += len(raw)
    return total


def segments(directory: Path) -> int:
    """Segments of an index folder: Whoosh's <index>_<id>.seg files, tantivy's <uuid>.* groups."""
    whoosh = len(list(directory.glob("*.seg")))
    tantivy = {p.stem for p in directory.iterdir() if re.fullmatch(r"[0-9a-f]{32}", p.stem)}
    return whoosh or len(tantivy)


def dir_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


@dataclass
class Workplace:
    workdir: Path
    mailvault: list[str]
    engine: str | None = None  # [index] engine; None: mailvault's default
    config: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    phases: list[tuple[str, float]] = field(default_factory=list)  # (phase, 1-minute load average)

    def __post_init__(self) -> None:
        self.config = self.workdir / "bench.toml"
        # A config of our own, so no /etc/mailvault/config.toml or $MAILVAULT_CONFIG leaks in.
        text = (
            "# mailvault settings for bench/search.py; everything else is at its default.\n"
            f'[archive]\ndata_dir = "{self.workdir / "data"}"\ncompany_domains = ["{COMPANY_DOMAIN}"]\n'
        )
        if self.engine is not None:
            text += f'[index]\nengine = "{self.engine}"\n'
        self.config.write_text(text)
        self.env = dict(os.environ, MAILVAULT_LOG__LEVEL="WARNING")
        self.env.pop("MAILVAULT_CONFIG", None)

    def phase(self, name: str) -> None:
        load = os.getloadavg()[0]
        self.phases.append((name, load))
        print(f"bench: {name} (load average {load:.2f})", file=sys.stderr, flush=True)

    def settings(self) -> Settings:
        return load_settings(self.config)

    def import_mbox(self, mbox: Path) -> tuple[dict[str, Any], float, str]:
        """`mailvault import mbox` as a user runs it: (its JSON summary, wall seconds, command)."""
        command = [*self.mailvault, "--config", str(self.config), "import", "mbox", str(mbox)]
        command += ["--json", "--no-progress"]
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=self.env, check=False)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"bench: {shlex.join(command)} exited {result.returncode}\n{result.stderr[-3000:]}")
        return json.loads(result.stdout), wall, "MAILVAULT_LOG__LEVEL=WARNING " + shlex.join(command)


# ---------------------------------------------------------------------------------------------
# The measurements.


@dataclass
class Rebuild:
    documents: int = 0
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    first_tenth_rate: float = 0.0  # documents/s while the index was small
    last_tenth_rate: float = 0.0  # and at the end: does the rate fall as the index grows?
    size: int = 0
    segments: int = 0
    optimize_seconds: float | None = None
    optimized_size: int | None = None

    @property
    def rate(self) -> float:
        return self.documents / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def cpu_rate(self) -> float:
        return self.documents / self.cpu_seconds if self.cpu_seconds else 0.0


def engine_rebuild(settings: Settings, archive: Archive) -> Rebuild:
    marks: list[tuple[float, int]] = []
    done = 0

    def progress(count: int) -> None:
        nonlocal done
        done += count
        marks.append((time.perf_counter(), done))

    started, cpu = time.perf_counter(), time.process_time()
    result = Rebuild(manage.rebuild(settings, archive, progress))
    result.wall_seconds, result.cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    result.first_tenth_rate, result.last_tenth_rate = _tenth_rates(started, marks, result.documents)
    directory = current_dir(settings.resolved_index_dir)
    assert directory is not None
    result.size = dir_size(directory)
    result.segments = segments(directory)
    return result


def _tenth_rates(started: float, marks: list[tuple[float, int]], total: int) -> tuple[float, float]:
    """Documents/s over the first batches covering a tenth of the documents, and the last ones."""
    if not marks or not total:
        return 0.0, 0.0
    points = [(started, 0), *marks]
    first = next(p for p in points if p[1] >= total / 10)
    last = next(p for p in reversed(points) if p[1] <= total - total / 10)
    end = points[-1]
    first_rate = first[1] / (first[0] - started) if first[0] > started else 0.0
    last_rate = (end[1] - last[1]) / (end[0] - last[0]) if end[0] > last[0] else 0.0
    return first_rate, last_rate


@dataclass
class FtsBuild:
    documents: int = 0
    wall_seconds: float = 0.0
    load_seconds: float = 0.0  # reading and analysing messages (or waiting for workers doing it)
    times: WriteTimes = field(default_factory=WriteTimes)
    size: int = 0
    fts_size: int = 0  # the FTS5 shadow tables alone (dbstat)
    tokens_in_index: int = 0  # token instances FTS5 holds: must equal times.tokens
    optimize_seconds: float | None = None
    optimized_size: int | None = None

    @property
    def rate(self) -> float:
        return self.documents / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def insert_rate(self) -> float:
        return self.documents / self.times.insert if self.times.insert else 0.0


def fts5_write(
    settings: Settings, archive: Archive, index: Fts5Index, ids: list[int], batch_size: int
) -> FtsBuild:
    """Index these messages in batches, each one durable commit, as mailvault's indexer does:
    with its worker processes reading and analysing batches ahead when it would use them."""
    build = FtsBuild()
    started = time.perf_counter()
    batches = [ids[at : at + batch_size] for at in range(0, len(ids), batch_size)]
    workers = prepare.worker_count(settings)
    if workers < 2 or len(batches) < prepare.BATCHES_FOR_WORKERS:
        for batch in batches:
            loading = time.perf_counter()
            documents = load_documents(archive.db, archive.blobs, batch)
            build.load_seconds += time.perf_counter() - loading
            index.write(documents, build.times)
            build.documents += len(documents)
    else:
        with prepare.Preparer(settings, with_tokens=True, workers=workers) as preparer:
            ahead = deque(preparer.submit(batch) for batch in batches[: workers + 1])
            following = iter(batches[workers + 1 :])
            while ahead:
                loading = time.perf_counter()
                documents = ahead.popleft().result()
                build.load_seconds += time.perf_counter() - loading  # waiting for the workers
                if batch := next(following, []):
                    ahead.append(preparer.submit(batch))
                index.write(documents, build.times)
                build.documents += len(documents)
    build.wall_seconds = time.perf_counter() - started
    return build


def archive_ids(archive: Archive, above: int = 0) -> list[int]:
    with archive.db.reading() as session:
        query = select(Message.archive_id).where(Message.archive_id > above).order_by(Message.archive_id)
        return list(session.scalars(query))


def raw_bytes_of(archive: Archive) -> int:
    with archive.db.reading() as session:
        return int(session.scalar(select(func.coalesce(func.sum(Message.size), 0))) or 0)


@dataclass
class Incremental:
    messages: int = 0
    import_seconds: float = 0.0
    engine_documents: int = 0
    engine_seconds: float = 0.0
    fts5_seconds: float = 0.0
    live_messages: int = 0
    live_seconds: float = 0.0  # replayed time until the last live message was searchable
    live_commits: int = 0
    lags: list[float] = field(default_factory=list)  # seconds from arrival to searchable, per message
    segments_after: int = 0

    @property
    def engine_rate(self) -> float:
        return self.engine_documents / self.engine_seconds if self.engine_seconds else 0.0

    @property
    def fts5_rate(self) -> float:
        return self.engine_documents / self.fts5_seconds if self.fts5_seconds else 0.0

    @property
    def live_rate(self) -> float:
        return self.live_messages / self.live_seconds if self.live_seconds else 0.0

    @property
    def worst_lag(self) -> float:
        return max(self.lags, default=0.0)

    def lag_trend(self) -> tuple[float, float]:
        """Worst lag in the first and in the second half of the messages: growing means behind."""
        half = len(self.lags) // 2
        return max(self.lags[:half], default=0.0), max(self.lags[half:], default=0.0)


def incremental(
    work: Workplace, settings: Settings, archive: Archive, fts: Fts5Index, bulk: Path, live: Path
) -> Incremental:
    result = Incremental()
    before = max(archive_ids(archive), default=0)
    summary, result.import_seconds, _ = work.import_mbox(bulk)
    result.messages = int(summary["new"])
    started = time.perf_counter()
    result.engine_documents = manage.update(settings, archive)
    result.engine_seconds = time.perf_counter() - started
    fts_build = fts5_write(settings, archive, fts, archive_ids(archive, before), settings.index.batch_size)
    result.fts5_seconds = fts_build.wall_seconds
    summary, _, _ = work.import_mbox(live)
    result.live_messages = int(summary["new"])
    root = settings.resolved_index_dir
    with writer_lock(root):
        directory = current_dir(root)
        assert directory is not None
        indexer = Indexer(archive, directory, batch_size=settings.index.batch_size)
        try:
            follow_replayed(indexer, result, settings.index.poll_interval, settings.index.batch_size)
        finally:
            indexer.close()
        result.segments_after = segments(directory)
    return result


def follow_replayed(indexer: Indexer, result: Incremental, poll_interval: float, batch_size: int) -> None:
    """manage.follow's loop, against messages arriving at LIVE_RATE: message i arrives at
    i / LIVE_RATE. The messages are in the archive already; each pass indexes only those that
    have arrived by then (Indexer.step with that batch size) and takes as long as it really
    takes; a pass that finds nothing waits the poll interval. Lag: commit time minus arrival.
    The import's own CPU, which would compete with the indexer on a real server, is not here."""
    clock = 0.0
    indexed = 0
    total = result.live_messages
    while indexed < total:
        arrived = min(total, int(clock * LIVE_RATE) + 1)
        if arrived == indexed:
            clock += poll_interval
            continue
        indexer.batch_size = min(arrived - indexed, batch_size)
        started = time.perf_counter()
        count = indexer.step()
        clock += time.perf_counter() - started
        if not count:
            raise RuntimeError("the indexer found none of the messages imported for the live run")
        result.lags += [clock - i / LIVE_RATE for i in range(indexed, indexed + count)]
        result.live_commits += 1
        indexed += count
    result.live_seconds = clock


def optimize_engine(settings: Settings) -> float:
    root = settings.resolved_index_dir
    with writer_lock(root):
        directory = current_dir(root)
        assert directory is not None
        engine = open_engine(directory)
        try:
            started = time.perf_counter()
            engine.optimize()
            return time.perf_counter() - started
        finally:
            engine.close()


def machine() -> dict[str, str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        ram = f"{int(memory) / 1024**2:.1f} GiB"
    except (OSError, IndexError, ValueError):
        ram = "unknown RAM"
    return {
        "machine": f"{os.cpu_count()} CPUs ({cpu}), {ram}, {platform.platform()}",
        "python": f"Python {platform.python_version()}",
        "sqlite": f"SQLite {__import__('sqlite3').sqlite_version}",
    }


# ---------------------------------------------------------------------------------------------
# Report.


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


@dataclass
class Results:
    argv: list[str]
    context: dict[str, str]
    messages: int
    raw_bytes: int
    import_seconds: float
    import_command: str
    rebuild: Rebuild
    fts: FtsBuild
    queries: list[Query]
    built: tuple[Latency, Latency]  # (the engine, FTS5) on the indexes as built
    full: Latency  # the engine through search.search: snippets included
    optimized: tuple[Latency, Latency] | None
    incremental: Incremental
    poll_interval: float
    profile: IndexProfile | None
    small: Latency | None  # the engine on the profile's index of small_messages
    small_messages: int
    engine: str  # its name as shown: Whoosh, Tantivy
    phases: list[tuple[str, float]]


def report(r: Results) -> dict[str, Any]:
    main, fts = r.built
    e = r.engine
    text_bytes = r.fts.times.text_bytes
    print()
    print("mailvault search benchmark (issue 4)")
    print(f"command:   {shlex.join(r.argv)}")
    for key, value in r.context.items():
        print(f"{key + ':':<10} {value}")
    loads = ", ".join(f"{name} {load:.1f}" for name, load in r.phases)
    print(f"load:      1-minute load average at each phase: {loads}")
    print(
        f"mail:      {r.messages:,} messages, {r.raw_bytes / MB:,.1f} MB raw (sum of message sizes), "
        f"{text_bytes / MB:,.1f} MB of extracted text (subject, body, attachment names, display names)"
    )
    print(
        f"import:    {r.import_seconds:.1f} s, {r.messages / r.import_seconds:,.0f} msg/s "
        f"(not part of the search figures): {r.import_command}"
    )

    rb, fb = r.rebuild, r.fts
    print()
    print(f"{'indexing':<52}{e:>12}{'FTS5':>12}{e + '/FTS5':>13}")
    rows: list[tuple[str, float, float, str]] = [
        ("full index, docs/s (wall)", rb.rate, fb.rate, "{:,.0f}"),
        ("full index, docs/s (CPU of this process)", rb.cpu_rate, 0.0, "{:,.0f}"),
        ("  first tenth of the documents, docs/s", rb.first_tenth_rate, 0.0, "{:,.0f}"),
        ("  last tenth of the documents, docs/s", rb.last_tenth_rate, 0.0, "{:,.0f}"),
        ("  engine only (FTS5: SQLite inserts + commits), docs/s", 0.0, fb.insert_rate, "{:,.0f}"),
        (
            f"incremental, {r.incremental.engine_documents:,} docs, docs/s",
            r.incremental.engine_rate,
            r.incremental.fts5_rate,
            "{:,.0f}",
        ),
        ("index size, MB", rb.size / MB, fb.size / MB, "{:,.1f}"),
        ("  / raw mail", rb.size / r.raw_bytes, fb.size / r.raw_bytes, "{:.3f}x"),
        ("  / extracted text", rb.size / text_bytes, fb.size / text_bytes, "{:.3f}x"),
    ]
    if rb.optimized_size is not None and fb.optimized_size is not None:
        rows.append(
            ("index size after optimize, MB", rb.optimized_size / MB, fb.optimized_size / MB, "{:,.1f}")
        )
        rows.append(
            (
                "optimize (merge into one segment), s",
                rb.optimize_seconds or 0.0,
                fb.optimize_seconds or 0.0,
                "{:,.1f}",
            )
        )
    for label, a, b, fmt in rows:
        left = fmt.format(a) if a else "-"
        right = fmt.format(b) if b else "-"
        print(f"{label:<52}{left:>12}{right:>12}{_ratio(a, b) if a and b else '-':>13}")
    print(
        f"{e} segments after the rebuild: {rb.segments} (one per commit of {r.context['batch']} messages; "
        f"{r.incremental.segments_after} after the incremental runs)"
    )
    print(
        f"FTS5 split: reading and analysing messages {fb.load_seconds:.1f} s (with worker processes: "
        f"the time spent waiting for them), joining tokens {fb.times.analysis:.1f} s, "
        f"SQLite {fb.times.insert:.1f} s; FTS5 part of its file {fb.fts_size / MB:,.1f} MB; "
        f"tokens kept whole: {fb.tokens_in_index:,} in the index = {fb.times.tokens:,} inserted: "
        f"{'yes' if fb.tokens_in_index == fb.times.tokens else 'NO'}"
    )

    print()
    print(
        f"query latency, ms: {len(r.queries)} queries of {QUERIES.name}, first page of {PAGE}, "
        "warm searchers;"
    )
    print("  percentiles over all timed runs (passes: timed passes after one untimed warm-up pass)")
    header = f"{'':<50}{'passes':>7}{'p50':>9}{'p95':>9}{'max':>9}{'mean':>9}"
    print(header)
    table = [(f"{e}, as rebuilt ({rb.segments} segments)", main), ("FTS5, as built", fts)]
    if r.optimized is not None:
        table += [(f"{e}, optimized (merged)", r.optimized[0]), ("FTS5, optimized", r.optimized[1])]
    table.append((f"{e} + snippets (search.search), as rebuilt", r.full))
    if r.small is not None:
        table.append((f"{e} at {r.small_messages:,} messages (profile's index)", r.small))
    for label, latency in table:
        s = latency.summary()
        print(
            f"{label:<50}{len(latency.samples[0]):>7}{s['p50_ms']:>9.1f}{s['p95_ms']:>9.1f}"
            f"{s['max_ms']:>9.1f}{s['mean_ms']:>9.1f}"
        )
    ws, fs = main.summary(), fts.summary()
    p50_ratio, p95_ratio = _ratio(ws["p50_ms"], fs["p50_ms"]), _ratio(ws["p95_ms"], fs["p95_ms"])
    print(f"{e}/FTS5 as built: p50 {p50_ratio}, p95 {p95_ratio}")
    empty_w = sum(1 for h in main.hits if h == 0)
    empty_f = sum(1 for h in fts.hits if h == 0)
    differ = [(q, a, b) for q, a, b in zip(r.queries, main.hits, fts.hits, strict=True) if a != b]
    hits = sorted(main.hits)
    print(
        f"hits per query ({e}): median {percentile([float(h) for h in hits], 50):,.0f}, "
        f"max {max(hits, default=0):,}; queries with no hits: {e} {empty_w}, FTS5 {empty_f}; "
        f"totals differ in {len(differ)} of {len(r.queries)}"
    )
    for query, a, b in differ[:15]:
        print(f"  differs: {query.text!r}: {e} {a:,}, FTS5 {b:,}")
    print(f"slowest queries ({e} as rebuilt, median ms / hits; FTS5 median ms):")
    medians_w, medians_f = main.medians(), fts.medians()
    slowest = sorted(range(len(r.queries)), key=lambda i: -medians_w[i])[:8]
    for i in slowest:
        query = r.queries[i]
        print(
            f"  {medians_w[i]:>8.1f} ms {main.hits[i]:>9,} hits   FTS5 {medians_f[i]:>7.1f} ms   "
            f"[{query.sort}] {query.text}"
        )

    inc = r.incremental
    early, late = inc.lag_trend()
    print()
    print(
        f"incremental: {inc.messages:,} more messages imported ({inc.import_seconds:.1f} s, not counted), "
        f"manage.update indexed {inc.engine_documents:,} in {inc.engine_seconds:.1f} s = "
        f"{inc.engine_rate:,.0f} docs/s (FTS5 {inc.fts5_rate:,.0f} docs/s)"
    )
    print(
        f"live indexer (manage.follow's loop replayed, {inc.live_messages:,} messages arriving at "
        f"{LIVE_RATE:.0f}/s, poll {r.poll_interval:g} s): {inc.live_commits} commits, "
        f"{inc.live_rate:,.0f} docs/s; lag p50 {percentile(inc.lags, 50):.1f} s, "
        f"p95 {percentile(inc.lags, 95):.1f} s, max {inc.worst_lag:.1f} s "
        f"(worst in the first half {early:.1f} s, second half {late:.1f} s: "
        f"{'growing, the indexer falls behind' if late > early * 1.5 + 1 else 'steady'})"
    )

    if r.profile is not None:
        print()
        print_profile(r.profile)

    return _targets(r) | {"details": _details(r)}


def _fitted_exponent(small: Latency, small_n: int, large: Latency, n: int) -> float | None:
    """k in cost ~ n**k, from the mean of the per-query medians at two sizes (steadier than a p95);
    None when the sizes are too close or the fit is not a cost that grows."""
    low, high = statistics.fmean(small.medians()), statistics.fmean(large.medians())
    if n < 4 * small_n or low <= 0 or high <= low:
        return None
    return math.log(high / low) / math.log(n / small_n)


def _targets(r: Results) -> dict[str, Any]:
    n, rb, inc = r.messages, r.rebuild, r.incremental
    at_scale = n >= TARGET_MESSAGES
    p95 = r.built[0].summary()["p95_ms"]
    p95_optimized = r.optimized[0].summary()["p95_ms"] if r.optimized else None
    p95_full = r.full.summary()["p95_ms"]
    snippets = r.full.summary()["mean_ms"] - r.built[0].summary()["mean_ms"]
    reindex_rate = TARGET_MESSAGES / TARGET_REINDEX
    print()
    if at_scale:
        print(f"targets (measured at {n:,} messages)")
    else:
        print(
            f"targets: they are set at {TARGET_MESSAGES:,} messages; this run has {n:,}. "
            f"The {TARGET_MESSAGES:,}-message run was NOT run"
        )
        hours = TARGET_MESSAGES / rb.rate / 3600 if rb.rate else 0.0
        print(f"  (at this run's reindex rate its full reindex alone would take {hours:.1f} h).")
        print("  Lines marked EXTRAPOLATION are estimates from this run, not measurements.")

    print(f"  query p95 < {TARGET_P95_MS:.0f} ms at {TARGET_MESSAGES:,} ({r.engine}, engine, as rebuilt):")
    optimized = f", {p95_optimized:.1f} ms optimized" if p95_optimized is not None else ""
    print(
        f"    measured at {n:,}: p95 {p95:.1f} ms as rebuilt{optimized}; {p95_full:.1f} ms with "
        f"snippets (search.search adds {snippets:.0f} ms a query on average, whatever the index size)"
    )
    linear = p95 * TARGET_MESSAGES / n
    k = _fitted_exponent(r.small, r.small_messages, r.built[0], n) if r.small is not None else None
    fitted = p95 * (TARGET_MESSAGES / n) ** k if k is not None else None
    if at_scale:
        p95_ok = p95 < TARGET_P95_MS
        print(f"    {_verdict(p95_ok)}")
    else:
        budget = TARGET_P95_MS * n / TARGET_MESSAGES
        print(
            f"    EXTRAPOLATION, linear (query cost proportional to the messages): the target allows "
            f"{budget:.1f} ms at {n:,}; {p95:.1f} x {TARGET_MESSAGES / n:,.0f} = {linear:,.0f} ms"
        )
        if r.small is not None and k is not None and fitted is not None:
            print(
                f"    EXTRAPOLATION, growth fitted on two sizes of this run (mean query {r.small_messages:,} "
                f"-> {n:,} messages): cost ~ n^{k:.2f}, p95 -> {fitted:,.0f} ms"
            )
        elif r.small is not None:
            print(
                f"    (no growth fitted: {r.small_messages:,} and {n:,} messages are too close, or the "
                "smaller index was not faster; judged by the linear extrapolation)"
            )
        p95_ok = (fitted if fitted is not None else linear) < TARGET_P95_MS
        print(f"    {_verdict(p95_ok)} (by extrapolation)")

    early, late = inc.lag_trend()
    steady = late <= early * 1.5 + 1
    inc_ok = inc.engine_rate >= TARGET_INCREMENTAL and inc.worst_lag < TARGET_LAG and steady
    print(
        f"  incremental >= {TARGET_INCREMENTAL:.0f} docs/s with lag < {TARGET_LAG:.0f} s: catch-up "
        f"{inc.engine_rate:,.0f} docs/s; live at {LIVE_RATE:.0f} msg/s worst lag {inc.worst_lag:.1f} s, "
        f"{'steady' if steady else 'growing'} (measured at {n:,})   {_verdict(inc_ok)}"
    )

    reindex_ok = rb.rate >= reindex_rate
    hours = TARGET_MESSAGES / rb.last_tenth_rate / 3600 if rb.last_tenth_rate else float("inf")
    print(
        f"  full reindex of {TARGET_MESSAGES:,} within {TARGET_REINDEX / 3600:.0f} h "
        f"(>= {reindex_rate:.0f} docs/s): {rb.rate:,.0f} docs/s at {n:,}   {_verdict(reindex_ok)}"
    )
    if not at_scale:
        print(
            f"    EXTRAPOLATION at the rate of the rebuild's last tenth ({rb.last_tenth_rate:,.0f} docs/s): "
            f"{hours:.1f} h for {TARGET_MESSAGES:,} (first tenth: {rb.first_tenth_rate:,.0f} docs/s)"
        )
    return {
        "targets": {
            "measured_at": n,
            "at_scale": at_scale,
            "p95": {
                "target_ms": TARGET_P95_MS,
                "engine_p95_ms": p95,
                "engine_p95_optimized_ms": p95_optimized,
                "engine_p95_with_snippets_ms": p95_full,
                "extrapolated_1m_linear_ms": None if at_scale else round(linear, 1),
                "extrapolated_1m_fitted_ms": None if at_scale or fitted is None else round(fitted, 1),
                "fitted_exponent": None if at_scale or k is None else round(k, 3),
                "pass": p95_ok,
                "by_extrapolation": not at_scale,
            },
            "incremental": {
                "target_docs_per_s": TARGET_INCREMENTAL,
                "catch_up_docs_per_s": round(inc.engine_rate, 1),
                "live_worst_lag_s": round(inc.worst_lag, 2),
                "live_lag_steady": steady,
                "pass": inc_ok,
            },
            "reindex": {
                "target_docs_per_s": round(reindex_rate, 1),
                "docs_per_s": round(rb.rate, 1),
                "extrapolated_1m_hours": None if at_scale else round(hours, 2),
                "pass": reindex_ok,
            },
        }
    }


def _details(r: Results) -> dict[str, Any]:
    main, fts = r.built
    per_query = []
    for i, query in enumerate(r.queries):
        entry: dict[str, Any] = {
            "sort": str(query.sort),
            "query": query.text,
            "engine_hits": main.hits[i],
            "fts5_hits": fts.hits[i],
            "engine_ms": round(main.medians()[i], 2),
            "fts5_ms": round(fts.medians()[i], 2),
            "engine_snippets_ms": round(r.full.medians()[i], 2),
        }
        if r.optimized is not None:
            entry["engine_optimized_ms"] = round(r.optimized[0].medians()[i], 2)
            entry["fts5_optimized_ms"] = round(r.optimized[1].medians()[i], 2)
        per_query.append(entry)
    measured = [*r.built, r.full, *(r.optimized or ()), *([r.small] if r.small else [])]
    latency = {latency.label: latency.summary() for latency in measured}
    inc = r.incremental
    return {
        "command": shlex.join(r.argv),
        "context": r.context,
        "load_by_phase": dict(r.phases),
        "messages": r.messages,
        "raw_bytes": r.raw_bytes,
        "text_bytes": r.fts.times.text_bytes,
        "import_seconds": round(r.import_seconds, 2),
        "rebuild": vars(r.rebuild)
        | {"rate": round(r.rebuild.rate, 1), "cpu_rate": round(r.rebuild.cpu_rate, 1)},
        "fts5": {
            "documents": r.fts.documents,
            "wall_seconds": round(r.fts.wall_seconds, 2),
            "rate": round(r.fts.rate, 1),
            "load_seconds": round(r.fts.load_seconds, 2),
            "analysis_seconds": round(r.fts.times.analysis, 2),
            "insert_seconds": round(r.fts.times.insert, 2),
            "size": r.fts.size,
            "fts_size": r.fts.fts_size,
            "tokens": r.fts.times.tokens,
            "tokens_in_index": r.fts.tokens_in_index,
            "optimize_seconds": r.fts.optimize_seconds,
            "optimized_size": r.fts.optimized_size,
        },
        "latency": latency,
        "incremental": vars(inc)
        | {"engine_rate": round(inc.engine_rate, 1), "fts5_rate": round(inc.fts5_rate, 1)},
        "profile": r.profile.as_dict() if r.profile else None,
        "queries": per_query,
    }


# ---------------------------------------------------------------------------------------------
# The run.


def run(args: argparse.Namespace, work: Workplace, argv: list[str]) -> dict[str, Any]:
    queries = load_queries(args.queries)
    n = args.messages
    extra = max(1, round(n * args.incremental_share))
    live = round(args.live_seconds * LIVE_RATE)
    small_n = min(args.profile_messages, n // 2)

    bulk, live_mbox = work.workdir / "incremental.mbox", work.workdir / "live.mbox"
    imported = work.workdir / "imported.json"  # what a kept work dir already holds, for --reuse
    setup = {"messages": n, "seed": args.seed}
    earlier = json.loads(imported.read_text()) if imported.exists() else {}
    if earlier and {key: earlier.get(key) for key in setup} != setup:
        sys.exit(f"bench: {work.workdir} holds another run's mail ({earlier}); use a new --reuse dir")
    work.phase("generating mail")
    if not earlier:
        mbox = work.workdir / f"mailgen-{n}-seed{args.seed}.mbox"
        write_mbox(mbox, n, args.seed)
    later = list(generate_with_envelope(extra + live, args.seed + 1))
    write_messages(bulk, later[:extra])
    write_messages(live_mbox, later[extra:])
    del later

    if earlier:
        work.phase(f"reusing the {n:,} messages imported by an earlier run")
        import_seconds, import_command = earlier["import_seconds"], earlier["import_command"]
    else:
        work.phase(f"importing {n:,} messages")
        summary, import_seconds, import_command = work.import_mbox(mbox)
        if int(summary["new"]) != n:
            sys.exit(f"bench: the import archived {summary['new']} of {n} messages: {summary}")
        record = setup | {"import_seconds": import_seconds, "import_command": import_command}
        imported.write_text(json.dumps(record) + "\n")
    if args.import_only:
        work.phase("done (--import-only)")
        return {"messages": n, "import_seconds": import_seconds, "import_command": import_command}

    settings = work.settings()
    engine_name = settings.index.engine.capitalize()
    with Archive(settings) as archive:
        if len(archive_ids(archive)) != n:
            # The incremental phase of an earlier run over a reused dir added mail: start afresh.
            sys.exit(f"bench: {work.workdir} no longer holds exactly {n:,} messages; use a new --reuse dir")
        raw = raw_bytes_of(archive)
        work.phase(f"{engine_name}: full reindex (manage.rebuild)")
        rebuild = engine_rebuild(settings, archive)

        work.phase("FTS5: indexing the same documents")
        fts_path = work.workdir / "fts5.sqlite3"
        fts_path.unlink(missing_ok=True)
        fts = Fts5Index(fts_path)
        fts_build = fts5_write(settings, archive, fts, archive_ids(archive), settings.index.batch_size)
        fts.checkpoint()
        fts_build.size = fts.used_size()
        fts_build.fts_size = fts.sizes()["fts"]
        fts_build.tokens_in_index = fts.token_count()
        fts.prepare_reads()

        work.phase("queries on the indexes as built")
        engine = manage.open_for_search(settings)
        try:
            built = (
                measure("engine", queries, engine_runner(engine), args.passes),
                measure("fts5", queries, fts5_runner(fts), args.passes),
            )
            # The searcher is warm: one timed pass (snippet work does not depend on the index).
            full = measure("engine_with_snippets", queries, full_runner(archive, engine), 1, warm_up=False)
        finally:
            engine.close()

        optimized = None
        if not args.no_optimize:
            work.phase("optimizing both indexes")
            rebuild.optimize_seconds = optimize_engine(settings)
            directory = current_dir(settings.resolved_index_dir)
            assert directory is not None
            rebuild.optimized_size = dir_size(directory)
            started = time.perf_counter()
            fts.optimize()
            fts_build.optimize_seconds = time.perf_counter() - started
            fts_build.optimized_size = fts.used_size()
            work.phase("queries on the optimized indexes (one timed pass)")
            engine = manage.open_for_search(settings)
            try:
                optimized = (
                    measure("engine_optimized", queries, engine_runner(engine), 1),
                    measure("fts5_optimized", queries, fts5_runner(fts), 1),
                )
            finally:
                engine.close()

        work.phase(f"incremental: {extra:,} more messages, then {live:,} arriving at {LIVE_RATE:.0f}/s")
        inc = incremental(work, settings, archive, fts, bulk, live_mbox)
        fts.close()

        profile = small = None
        if small_n:
            work.phase(f"profiling the indexing of {small_n:,} messages")
            # Named <engine>-<stamp> like every index folder: open_engine reads the engine from it.
            small_dir = work.workdir / f"{settings.index.engine}-profile"
            shutil.rmtree(small_dir, ignore_errors=True)  # an earlier run's, in a --reuse dir
            profile = profile_indexing(archive, small_dir, small_n, settings.index.batch_size)
            small_n = profile.documents
            work.phase(f"queries on the profile's index of {small_n:,} messages")
            engine = open_engine(small_dir)
            try:
                small = measure("engine_small", queries, engine_runner(engine), args.passes)
            finally:
                engine.close()
    work.phase("done")

    context = machine() | {
        "mailvault": f"{mailvault_version(work.mailvault)}, package {Path(mailvault.__file__).parent}",
        "engine": f"{settings.index.engine} (the configured engine; the FTS5 reference is bench/fts5.py)",
        "disk": f"{work.workdir} on {filesystem_of(work.workdir)}",
        "mail": f"bench/mailgen.py, seed {args.seed} (later mail: seed {args.seed + 1})",
        "batch": str(settings.index.batch_size),
        "database": "SQLite (the default)",
    }
    results = Results(
        argv=argv,
        context=context,
        messages=n,
        raw_bytes=raw,
        import_seconds=import_seconds,
        import_command=import_command,
        rebuild=rebuild,
        fts=fts_build,
        queries=queries,
        built=built,
        full=full,
        optimized=optimized,
        incremental=inc,
        poll_interval=settings.index.poll_interval,
        profile=profile,
        small=small,
        small_messages=small_n,
        phases=work.phases,
        engine=engine_name,
    )
    return report(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--messages", type=int, default=100_000, help="messages to generate and index (targets: 1000000)"
    )
    parser.add_argument("--seed", type=int, default=42, help="mailgen seed")
    parser.add_argument("--engine", help="[index] engine to measure (default: mailvault's default, whoosh)")
    parser.add_argument("--queries", type=Path, default=QUERIES, help="query set (default: %(default)s)")
    parser.add_argument(
        "--passes", type=int, default=2, help="timed passes over the queries, after a warm-up"
    )
    parser.add_argument(
        "--incremental-share", type=float, default=0.03, help="more mail imported for the incremental run"
    )
    parser.add_argument(
        "--live-seconds",
        type=float,
        default=30.0,
        help=f"seconds of mail arriving at {LIVE_RATE:.0f}/s for the live indexer's replay",
    )
    parser.add_argument(
        "--profile-messages",
        type=int,
        default=3000,
        help="messages to index under cProfile (at most half of --messages; 0: none)",
    )
    parser.add_argument("--no-optimize", action="store_true", help="skip merging the indexes and re-querying")
    parser.add_argument("--workdir", type=Path, help="where to put mbox files and archives (kept)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work dir")
    parser.add_argument(
        "--reuse",
        type=Path,
        help="work in this dir, reusing mail an earlier run with the same --messages/--seed imported there",
    )
    parser.add_argument("--import-only", action="store_true", help="stop after importing (to --reuse later)")
    parser.add_argument("--json-out", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.messages < 100:
        parser.error("--messages must be at least 100")

    if args.reuse is not None:
        args.reuse.mkdir(parents=True, exist_ok=True)
        workdir = args.reuse.resolve()
    elif args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="search-", dir=args.workdir))
    else:
        workdir = Path(tempfile.mkdtemp(prefix="mailvault-search-bench-"))
    command = [Path(sys.executable).name, *sys.argv] if argv is None else ["search.py", *argv]
    try:
        print(f"bench: working in {workdir}", file=sys.stderr)
        results = run(args, Workplace(workdir, find_mailvault(), args.engine), command)
        if args.json_out is not None:
            args.json_out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
            print(f"\nresults written to {args.json_out}")
    finally:
        if args.workdir is None and args.reuse is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"\nwork dir kept: {workdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
