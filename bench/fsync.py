"""What durability costs on this machine: CPU and wall time per fsynced file, the way the blob
store writes one (temp file, fsync, link, directory fsync), against the same writes unsynced."""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path


def run(directory: Path, count: int, size: int, mode: str) -> tuple[float, float, float]:
    data = os.urandom(size)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    for n in range(count):
        final = directory / f"{mode}-{n}"
        tmp = directory / f".{mode}-{n}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o440)
        os.write(fd, data)
        if mode != "unsynced":
            os.fsync(fd)
        os.close(fd)
        os.link(tmp, final)
        tmp.unlink()
        if mode == "file+dir fsync":
            dir_fd = os.open(directory, os.O_RDONLY)
            os.fsync(dir_fd)
            os.close(dir_fd)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--size", type=int, default=6000, help="bytes per file (a compressed mail)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mailvault-fsync-", dir=args.dir))
    print(f"command: python bench/fsync.py --count {args.count} --size {args.size}")
    print(f"{'mode':<16} {'files/s':>9} {'wall ms':>8} {'user ms':>8} {'sys ms':>8}   (per file)")
    try:
        for mode in ("unsynced", "file fsync", "file+dir fsync"):
            folder = base / mode.replace(" ", "_").replace("+", "_")
            folder.mkdir()
            wall, user, system = run(folder, args.count, args.size, mode)
            per = 1000 / args.count
            print(
                f"{mode:<16} {args.count / wall:>9.0f} {wall * per:>8.3f} {user * per:>8.3f} "
                f"{system * per:>8.3f}"
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
