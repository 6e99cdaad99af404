"""`verify` finds every kind of damage an archive can suffer, and nothing when it is intact."""

from __future__ import annotations

import zstandard

from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.models import SourceKind
from mailvault.archive.store import Archive
from mailvault.archive.verify import Problem, verify
from tests.mailfactory import make_message


def ingest_three(archive: Archive) -> list[str]:
    raws = [make_message(subject=f"message {n}") for n in range(3)]
    results = archive.ingestor.ingest_many(
        [Arrival(raw, SourceInfo(SourceKind.FILE, f"/m{n}")) for n, raw in enumerate(raws)]
    )
    return [r.sha256 for r in results]


def test_intact_archive_verifies(archive: Archive) -> None:
    ingest_three(archive)
    report = verify(archive.db, archive.blobs)
    assert report.checked == 3
    assert report.ok
    assert report.findings == []


def test_altered_and_missing_blobs_are_found(archive: Archive) -> None:
    altered, missing, _intact = ingest_three(archive)
    path = archive.blobs.path_of(altered)
    path.chmod(0o600)
    # Valid zstd, other content: only re-hashing can tell.
    path.write_bytes(zstandard.ZstdCompressor().compress(b"Subject: forged\r\n\r\npay into account 123\r\n"))
    archive.blobs.path_of(missing).unlink()
    report = verify(archive.db, archive.blobs)
    problems = {f.sha256: f.problem for f in report.findings}
    assert problems == {altered: Problem.MISMATCH, missing: Problem.MISSING}
    assert not report.ok
