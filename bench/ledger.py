"""What the tamper-evident ledger (issue 7) costs the import: `mailvault import mbox` of the same
generated mail with this tree and with the anchor, the last commit before the ledger, alternated
in the same run (the anchor runs from a git worktree put first on PYTHONPATH).

Every arrival is sealed in the transaction that writes it: one more row per arrival, a canonical
JSON payload and a SHA-256, and on PostgreSQL an advisory lock per transaction. No target is set
for it in the issue; the figure is recorded in BENCHMARKS.md so that its cost stays known.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import MB, Bench, Run
from bench.mailgen import write_mbox

ROOT = Path(__file__).resolve().parents[1]
ANCHOR = "a2b8f5a"  # the last commit before the ledger (schema 0004)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="messages to generate and import")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each tree, alternated")
    parser.add_argument("--anchor", default=ANCHOR, help="git revision to compare with")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="mailvault-ledger-bench-") as temp:
        work = Path(temp)
        anchor_tree = work / "anchor"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(anchor_tree), args.anchor],
            check=True,
            capture_output=True,
        )
        # `python -m mailvault` puts the working directory first on sys.path, before PYTHONPATH:
        # run from a directory without a mailvault package, so each tree is the one imported.
        os.chdir(work)
        try:
            mbox = work / "mail.mbox"
            _count, raw_bytes = write_mbox(mbox, args.count, 42)
            print(f"generated {args.count:,} messages, {raw_bytes / MB:.1f} MB", file=sys.stderr)
            runs: dict[str, list[Run]] = {"anchor": [], "ledger": []}
            for round_ in range(args.rounds):
                for label, pythonpath in (("anchor", str(anchor_tree)), ("ledger", "")):
                    bench = Bench(work, [sys.executable, "-m", "mailvault"])
                    bench.env = dict(bench.env, PYTHONPATH=pythonpath) if pythonpath else bench.env
                    data_dir = work / f"data-{label}-{round_}"
                    runs[label].append(
                        bench.import_(f"{label}-{round_}", data_dir, raw_bytes, ["mbox", str(mbox)])
                    )
            _report(args, runs)
            _check_trees(runs)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(anchor_tree)], check=False
            )
    return 0


def _check_trees(runs: dict[str, list[Run]]) -> None:
    """Each run used the tree it is named after: only the ledger's databases have the table."""
    import sqlite3

    for label, measured in runs.items():
        for run in measured:
            database = Path(run.commands[0].split("--data-dir ")[1].split()[0]) / "mailvault.sqlite3"
            with sqlite3.connect(database) as db:
                has = bool(db.execute("SELECT 1 FROM sqlite_master WHERE name = 'ledger_entries'").fetchone())
            if has != (label == "ledger"):
                sys.exit(f"bench: the {label} run did not use the {label} tree ({database})")


def _report(args: argparse.Namespace, runs: dict[str, list[Run]]) -> None:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"\nImport of {args.count:,} generated messages into SQLite, {when}")
    print(f"{'tree':<8} {'round':>5} {'messages':>9} {'wall s':>8} {'msg/s':>7} {'CPU s':>8} {'db MB':>7}")
    for label, measured in runs.items():
        for number, run in enumerate(measured):
            print(
                f"{label:<8} {number:>5} {run.messages:>9,} {run.wall_seconds:>8.1f} "
                f"{run.messages / run.wall_seconds:>7.0f} {run.cpu_seconds:>8.1f} "
                f"{run.storage.db_apparent / MB:>7.1f}"
            )
    anchor = statistics.median(r.messages / r.wall_seconds for r in runs["anchor"])
    ledger = statistics.median(r.messages / r.wall_seconds for r in runs["ledger"])
    ratio = ledger / anchor
    print(f"median msg/s: anchor {anchor:.0f} ({args.anchor}), with the ledger {ledger:.0f}: {ratio:.2f}x")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
