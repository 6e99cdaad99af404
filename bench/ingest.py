"""Import benchmark (issue 2): end-to-end `mailvault import` rate, peak memory and storage ratio.

Generates mail with bench/mailgen.py, imports it with the `mailvault` command as a user would, and
prints the figures against the targets: at least 500 messages/s, flat memory, stored at most 0.5x raw.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__" and not __package__:
    # Run as `python bench/ingest.py` from anywhere: make the `bench` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.mailgen import write_mbox

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
COMPANY_DOMAIN = "huaqiang-elec.com.cn"  # the sender domain of mailgen's own staff

TARGET_RATE = 500.0  # messages per second, end to end
TARGET_FLAT = 1.25  # peak memory at N over peak at N/4; 1.0 is perfectly flat
TARGET_STORED = 0.5  # bytes on disk per byte of raw mail
MB = 1_000_000


@dataclass
class Storage:
    """What an archive occupies on disk; `allocated` counts whole file-system blocks."""

    blob_files: int = 0
    blob_dirs: int = 0
    blobs_apparent: int = 0  # sum of blob file sizes
    blobs_allocated: int = 0  # st_blocks * 512 of the blob files
    dirs_allocated: int = 0  # st_blocks * 512 of the blob store's directories
    db_apparent: int = 0  # mailvault.sqlite3 plus -wal and -shm, if left behind
    db_allocated: int = 0

    @property
    def total_apparent(self) -> int:
        return self.blobs_apparent + self.db_apparent

    @property
    def total_allocated(self) -> int:
        return self.blobs_allocated + self.dirs_allocated + self.db_allocated


@dataclass
class Run:
    """One `mailvault import` (or, for a corpus, two) and what it cost."""

    label: str
    commands: list[str]
    raw_bytes: int
    messages: int = 0
    new: int = 0
    failed: int = 0
    skipped: int = 0
    wall_seconds: float = 0.0  # process start to exit, what the user waits
    import_seconds: float = 0.0  # the importer's own figure (no start-up, schema, shutdown)
    cpu_seconds: float = 0.0  # user + system of the command and all its descendants
    peak_rss: int = 0  # largest single process (main, forkserver or parse worker), bytes
    peak_tree: int = 0  # largest sampled sum over the whole process tree (PSS), bytes
    processes: int = 0  # most processes seen in the tree at once
    storage: Storage = field(default_factory=Storage)

    @property
    def rate(self) -> float:
        return self.messages / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.raw_bytes / MB / self.wall_seconds if self.wall_seconds else 0.0

    def ratio(self, size: int) -> float:
        return size / self.raw_bytes if self.raw_bytes else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        storage = self.storage
        data.update(
            rate=round(self.rate, 1),
            mb_per_s=round(self.mb_per_s, 2),
            stored_ratio_apparent=round(self.ratio(storage.total_apparent), 4),
            stored_ratio_allocated=round(self.ratio(storage.total_allocated), 4),
            blobs_ratio_apparent=round(self.ratio(storage.blobs_apparent), 4),
            blobs_ratio_allocated=round(self.ratio(storage.blobs_allocated + storage.dirs_allocated), 4),
            db_ratio=round(self.ratio(storage.db_allocated), 4),
        )
        return data


# ---------------------------------------------------------------------------------------------
# Measuring a child process tree.


class TreeSampler(threading.Thread):
    """Samples a process and all its descendants (forkserver, parse workers) every `interval`.

    rusage cannot see the parse workers: they are children of multiprocessing's forkserver,
    which the import never reaps, so wait4() and RUSAGE_CHILDREN report the main process only.
    /proc can: VmHWM is each process's own peak RSS, and PSS, which splits the pages shared after
    fork among their users, summed over the tree is what the import really holds.
    """

    def __init__(self, root: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak_tree = 0  # largest summed PSS seen, bytes
        self.peak_rss: dict[int, int] = {}  # pid: VmHWM, bytes
        self.cpu: dict[int, float] = {}  # pid: user + system seconds, as last seen
        self.processes = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def sample(self) -> None:
        table = _process_table()
        pids = [self.root]
        for pid in pids:  # grows while walking: breadth-first over the tree
            pids.extend(child for child, (parent, _cpu) in table.items() if parent == pid)
        total = 0
        for pid in pids:
            pss, hwm = _memory(pid)
            total += pss
            self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), hwm)
            if pid in table:
                self.cpu[pid] = table[pid][1]
        self.peak_tree = max(self.peak_tree, total)
        self.processes = max(self.processes, len(pids))


_TICKS = os.sysconf("SC_CLK_TCK")


def _process_table() -> dict[int, tuple[int, float]]:
    """{pid: (parent pid, user + system CPU seconds)} of every process."""
    table: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        fields = stat.rpartition(")")[2].split()  # the command name may contain spaces
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS)
    return table


def _memory(pid: int) -> tuple[int, int]:
    """(PSS, peak RSS) of a process in bytes; zeros once it is gone."""
    pss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
                break
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    return pss, hwm


@dataclass
class Measured:
    returncode: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss: int
    peak_tree: int
    processes: int
    stdout: str
    stderr: str


def run_measured(command: list[str], env: dict[str, str], logs: Path) -> Measured:
    """Run `command`, timing it and recording the peak memory and CPU of its process tree."""
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / "stdout.txt", logs / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        sampler = TreeSampler(process.pid)
        sampler.start()
        try:
            # wait4: this child's own rusage (not mixed with earlier runs as RUSAGE_CHILDREN is).
            _pid, status, usage = os.wait4(process.pid, 0)
        finally:
            wall = time.perf_counter() - started
            sampler.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
    sampler.cpu.pop(process.pid, None)  # the exact figure is in `usage`
    return Measured(
        returncode=process.returncode,
        wall_seconds=wall,
        # Descendants as last sampled, at most `interval` before they exited.
        cpu_seconds=usage.ru_utime + usage.ru_stime + sum(sampler.cpu.values()),
        peak_rss=max(usage.ru_maxrss * 1024, *sampler.peak_rss.values(), 0),  # ru_maxrss: KiB
        peak_tree=sampler.peak_tree,
        processes=sampler.processes,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


# ---------------------------------------------------------------------------------------------
# Storage.


def _walk(directory: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(directory) as entries:
        for entry in entries:
            yield entry
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path))


def measure_storage(data_dir: Path) -> Storage:
    storage = Storage()
    blobs = data_dir / "blobs"
    if blobs.is_dir():
        storage.dirs_allocated += blobs.stat().st_blocks * 512
        for entry in _walk(blobs):
            info = entry.stat(follow_symlinks=False)
            if entry.is_dir(follow_symlinks=False):
                storage.blob_dirs += 1
                storage.dirs_allocated += info.st_blocks * 512
            else:
                storage.blob_files += 1
                storage.blobs_apparent += info.st_size
                storage.blobs_allocated += info.st_blocks * 512
    for path in data_dir.glob("mailvault.sqlite3*"):
        info = path.stat()
        storage.db_apparent += info.st_size
        storage.db_allocated += info.st_blocks * 512
    return storage


def filesystem_of(path: Path) -> str:
    """`ext4 (4096-byte blocks)`: allocation rounding depends on it."""
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        mounts = []
    resolved = str(path.resolve())
    for line in mounts:
        fields = line.split()
        inside = len(fields) > 2 and (resolved + "/").startswith(fields[1].rstrip("/") + "/")
        if inside and len(fields[1]) >= len(best):
            best, kind = fields[1], fields[2]
    return f"{kind} ({os.statvfs(path).f_bsize}-byte blocks)"


# ---------------------------------------------------------------------------------------------
# The benchmark.


class Bench:
    def __init__(self, workdir: Path, mailvault: list[str]) -> None:
        self.workdir = workdir
        self.mailvault = mailvault
        self.config = workdir / "bench.toml"
        # A config of our own, so no /etc/mailvault/config.toml or $MAILVAULT_CONFIG leaks in.
        self.config.write_text(
            "# mailvault settings for bench/ingest.py; everything else is at its default.\n"
            f'[archive]\ncompany_domains = ["{COMPANY_DOMAIN}"]\n'
        )
        self.env = dict(os.environ, MAILVAULT_LOG__LEVEL="WARNING")
        self.env.pop("MAILVAULT_CONFIG", None)

    def command(self, data_dir: Path, *args: str) -> list[str]:
        return [
            *self.mailvault,
            "--config",
            str(self.config),
            "--data-dir",
            str(data_dir),
            "import",
            *args,
            "--json",
            "--no-progress",
        ]

    def shown(self, command: list[str]) -> str:
        return "MAILVAULT_LOG__LEVEL=WARNING " + shlex.join(command)

    def import_(self, label: str, data_dir: Path, raw_bytes: int, *sources: list[str]) -> Run:
        """One or more `mailvault import` commands into a fresh data dir, measured together."""
        run = Run(label, [], raw_bytes)
        for index, args in enumerate(sources):
            command = self.command(data_dir, *args)
            run.commands.append(self.shown(command))
            print(f"  {label}: {self.shown(command)}", file=sys.stderr, flush=True)
            measured = run_measured(command, self.env, self.workdir / "logs" / f"{label}-{index}")
            if measured.returncode not in (0, 2):  # 2: some messages failed (counted below)
                sys.exit(f"bench: {label}: mailvault exited {measured.returncode}\n{measured.stderr[-3000:]}")
            summary = json.loads(measured.stdout)
            run.messages += int(summary["messages"])
            run.new += int(summary["new"])
            run.failed += int(summary["failed"])
            run.skipped += int(summary["skipped"])
            run.import_seconds += float(summary["seconds"])
            if not raw_bytes:
                run.raw_bytes += int(summary["bytes"])
            run.wall_seconds += measured.wall_seconds
            run.cpu_seconds += measured.cpu_seconds
            run.peak_rss = max(run.peak_rss, measured.peak_rss)
            run.peak_tree = max(run.peak_tree, measured.peak_tree)
            run.processes = max(run.processes, measured.processes)
        run.storage = measure_storage(data_dir)
        return run

    def synthetic(self, count: int, seed: int) -> Run:
        mbox = self.workdir / f"mailgen-{count}-seed{seed}.mbox"
        started = time.perf_counter()
        _count, raw_bytes = write_mbox(mbox, count, seed)
        print(
            f"  generated {count:,} messages, {raw_bytes / MB:.1f} MB in "
            f"{time.perf_counter() - started:.1f}s (not counted): {mbox}",
            file=sys.stderr,
            flush=True,
        )
        return self.import_(
            f"synthetic-{count}", self.workdir / f"data-{count}", raw_bytes, ["mbox", str(mbox)]
        )

    def corpus(self, corpus: Path) -> Run:
        mboxes = sorted(p for p in corpus.rglob("*.mbox") if p.is_file())
        sources = [["eml", str(corpus)]]
        if mboxes:
            sources.append(["mbox", *map(str, mboxes)])
        return self.import_("corpus", self.workdir / "data-corpus", 0, *sources)


def find_mailvault() -> list[str]:
    """The `mailvault` command of this Python's environment, else the one on PATH."""
    beside = Path(sys.executable).with_name("mailvault")
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("mailvault")
    return [found] if found else [sys.executable, "-m", "mailvault"]


def mailvault_version(command: list[str]) -> str:
    try:
        result = subprocess.run([*command, "--version"], capture_output=True, text=True, check=False)
    except OSError as exc:
        return f"unknown ({exc})"
    return result.stdout.strip() or result.stderr.strip()


# ---------------------------------------------------------------------------------------------
# Report.


def _mb(size: int) -> str:
    return f"{size / MB:,.1f} MB"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(
    runs: list[Run], full: Run, small: Run, argv: list[str], context: dict[str, str], corpus_note: str
) -> dict[str, Any]:
    print()
    print("mailvault import benchmark (issue 2)")
    print(f"command:   {shlex.join(argv)}")
    for key, value in context.items():
        print(f"{key + ':':<10} {value}")
    print()
    header = (
        f"{'run':<18}{'messages':>9}{'raw':>11}{'wall s':>8}{'msg/s':>8}{'MB/s':>7}{'cpu s':>8}"
        f"{'peak RSS':>10}{'tree PSS':>10}{'stored':>8}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        print(
            f"{run.label:<18}{run.messages:>9,}{run.raw_bytes / MB:>8.1f} MB{run.wall_seconds:>8.1f}"
            f"{run.rate:>8.0f}{run.mb_per_s:>7.1f}{run.cpu_seconds:>8.1f}"
            f"{run.peak_rss / MB:>7.0f} MB{run.peak_tree / MB:>7.0f} MB"
            f"{run.ratio(run.storage.total_allocated):>7.3f}x"
        )
    print(
        "peak RSS: the largest single process of the import (main, forkserver or a parse worker:\n"
        "wait4 rusage plus VmHWM of every descendant, as rusage misses the forkserver's workers).\n"
        "tree PSS: the whole process tree summed, sampled every 0.1 s. cpu: all processes.\n"
        "stored: allocated bytes on disk per raw byte (see below). wall includes start-up."
    )
    if corpus_note:
        print(corpus_note)

    for run in runs:
        storage = run.storage
        print()
        print(f"storage, {run.label} ({storage.blob_files:,} blobs in {storage.blob_dirs:,} directories)")
        rows = [
            ("raw mail", run.raw_bytes),
            ("blobs, apparent (file sizes)", storage.blobs_apparent),
            ("blobs, allocated (whole blocks)", storage.blobs_allocated),
            ("blob directories, allocated", storage.dirs_allocated),
            ("database (sqlite3 + -wal), apparent", storage.db_apparent),
            ("database, allocated", storage.db_allocated),
            ("total, apparent", storage.total_apparent),
            ("total, allocated", storage.total_allocated),
        ]
        for name, size in rows:
            print(f"  {name:<38}{_mb(size):>12}{run.ratio(size):>9.3f}x")

    rate_ok = full.rate >= TARGET_RATE
    flat_tree = full.peak_tree / small.peak_tree if small.peak_tree else 0.0
    flat_rss = full.peak_rss / small.peak_rss if small.peak_rss else 0.0
    flat_ok = 0 < flat_tree <= TARGET_FLAT and 0 < flat_rss <= TARGET_FLAT
    stored = full.ratio(full.storage.total_allocated)
    stored_apparent = full.ratio(full.storage.total_apparent)
    stored_ok = stored <= TARGET_STORED
    print()
    print(f"targets (judged on {full.label})")
    print(
        f"  >= {TARGET_RATE:.0f} msg/s end to end        {full.rate:>10.0f} msg/s"
        f"          {_verdict(rate_ok)}"
    )
    print(
        f"  memory flat (N vs N/4, <= {TARGET_FLAT}x)   tree {flat_tree:.2f}x, RSS {flat_rss:.2f}x"
        f"  {_verdict(flat_ok)}"
    )
    print(f"      peak tree PSS {_mb(small.peak_tree)} -> {_mb(full.peak_tree)}; ", end="")
    print(f"peak RSS {_mb(small.peak_rss)} -> {_mb(full.peak_rss)}")
    print(
        f"  stored <= {TARGET_STORED}x raw (allocated)      {stored:>10.3f}x "
        f"(apparent {stored_apparent:.3f}x)  {_verdict(stored_ok)}"
    )
    print()
    print("commands")
    for run in runs:
        for command in run.commands:
            print(f"  $ {command}")
    return {
        "command": shlex.join(argv),
        "context": context,
        "runs": [run.as_dict() for run in runs],
        "targets": {
            "rate": {"target": TARGET_RATE, "value": round(full.rate, 1), "pass": rate_ok},
            "memory_flat": {
                "target": TARGET_FLAT,
                "tree_ratio": round(flat_tree, 3),
                "rss_ratio": round(flat_rss, 3),
                "pass": flat_ok,
            },
            "stored": {
                "target": TARGET_STORED,
                "allocated_ratio": round(stored, 4),
                "apparent_ratio": round(stored_apparent, 4),
                "pass": stored_ok,
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=20_000, help="messages to generate and import")
    parser.add_argument("--seed", type=int, default=42, help="mailgen seed")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help=f"folder of real mail to import as well (default {DEFAULT_CORPUS}); skipped if absent",
    )
    parser.add_argument(
        "--workdir", type=Path, help="where to put mbox files and archives (kept); default: a temp dir"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary work dir")
    parser.add_argument("--json-out", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.count < 4:
        parser.error("--count must be at least 4")

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="ingest-", dir=args.workdir))
    else:
        workdir = Path(tempfile.mkdtemp(prefix="mailvault-bench-"))
    mailvault = find_mailvault()
    try:
        bench = Bench(workdir, mailvault)
        print(f"bench: working in {workdir}", file=sys.stderr)
        small = bench.synthetic(args.count // 4, args.seed)
        full = bench.synthetic(args.count, args.seed)
        runs = [small, full]
        corpus_note = ""
        if args.corpus.is_dir():
            runs.append(bench.corpus(args.corpus))
        else:
            corpus_note = f"corpus: {args.corpus} not found; skipped (give --corpus DIR)"
        context = {
            "machine": f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
            "mailvault": f"{mailvault_version(mailvault)} ({shlex.join(mailvault)})",
            "disk": f"{workdir} on {filesystem_of(workdir)}",
            "mail": f"bench/mailgen.py, seed {args.seed}",
            "workers": os.environ.get("MAILVAULT_INGEST__PARSE_WORKERS", "default (one per CPU)"),
        }
        command = [Path(sys.executable).name, *sys.argv] if argv is None else ["ingest.py", *argv]
        results = report(runs, full, small, command, context, corpus_note)
        if args.json_out is not None:
            args.json_out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
            print(f"\nresults written to {args.json_out}")
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"\nwork dir kept: {workdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
