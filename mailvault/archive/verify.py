"""Proof that the archive is intact: every recorded blob is present and hashes to its name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import func, select

from mailvault.archive.blobs import BlobStore, sha256_of
from mailvault.archive.db import Database
from mailvault.archive.models import Blob
from mailvault.errors import ArchiveError, NotFoundError


class Problem(StrEnum):
    MISSING = "missing"  # recorded in the database, absent from the store
    MISMATCH = "mismatch"  # present, but its bytes no longer hash to its name: altered
    DAMAGED = "damaged"  # present, but cannot be decompressed or read
    SIZE = "size"  # hashes right but differs from the recorded size (database damage)
    UNRECORDED = "unrecorded"  # in the store, not in the database (a crash before the row)


@dataclass(frozen=True, slots=True)
class Finding:
    sha256: str
    problem: Problem
    detail: str = ""


@dataclass
class VerifyReport:
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Unrecorded blobs lose nothing (re-importing their source records them): not a failure."""
        return all(f.problem is Problem.UNRECORDED for f in self.findings)


def count_blobs(db: Database) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Blob)) or 0)


def verify(
    db: Database,
    blobs: BlobStore,
    *,
    on_checked: Callable[[int], None] = lambda n: None,
    threads: int = 4,
) -> VerifyReport:
    report = VerifyReport()
    recorded: set[str] = set()
    with ThreadPoolExecutor(threads, thread_name_prefix="verify") as pool:
        for chunk in _recorded_chunks(db):
            for finding in pool.map(lambda row: _check(blobs, *row), chunk):
                if finding is not None:
                    report.findings.append(finding)
            recorded.update(sha for sha, _ in chunk)
            report.checked += len(chunk)
            on_checked(len(chunk))
    for sha in blobs.hashes():
        if sha not in recorded:
            report.findings.append(Finding(sha, Problem.UNRECORDED, "stored but not in the database"))
    return report


def _recorded_chunks(db: Database, size: int = 1000) -> Iterator[list[tuple[str, int]]]:
    last = ""
    while True:
        with db.reading() as session:
            chunk = [
                (sha, blob_size)
                for sha, blob_size in session.execute(
                    select(Blob.sha256, Blob.size).where(Blob.sha256 > last).order_by(Blob.sha256).limit(size)
                )
            ]
        if not chunk:
            return
        yield chunk
        last = chunk[-1][0]


def _check(blobs: BlobStore, sha256: str, size: int) -> Finding | None:
    try:
        raw = blobs.get(sha256)
    except NotFoundError:
        return Finding(sha256, Problem.MISSING, "recorded but absent from the blob store")
    except ArchiveError as exc:
        return Finding(sha256, Problem.DAMAGED, str(exc))
    actual = sha256_of(raw)
    if actual != sha256:
        return Finding(sha256, Problem.MISMATCH, f"content now hashes to {actual}")
    if len(raw) != size:
        return Finding(sha256, Problem.SIZE, f"{len(raw)} bytes, database says {size}")
    return None
