"""The content-addressed store: durable, exact, never rewritten; clear errors when it cannot write."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailvault.archive.blobs import LocalBlobStore, sha256_of
from mailvault.errors import ArchiveError, NotFoundError
from tests.servers import small_tmpfs


def test_roundtrip_is_exact_and_compressed(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    raw = b"Subject: hello\r\n\r\n" + "您好，报价如下。\r\n".encode() * 200
    sha = sha256_of(raw)
    stored = store.put(sha, raw)
    assert store.get(sha) == raw
    assert stored < len(raw) / 4
    path = store.path_of(sha)
    assert path.parent.parent == tmp_path / "blobs"
    assert not stat.S_IMODE(path.stat().st_mode) & 0o222, "blobs are read-only"
    assert list(store.hashes()) == [sha]
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_existing_blob_is_never_rewritten(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    raw = b"Subject: x\r\n\r\nbody\r\n"
    sha = sha256_of(raw)
    store.put(sha, raw)
    before = store.path_of(sha).stat()
    store.put(sha, raw)
    after = store.path_of(sha).stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_missing_and_damaged_blobs_are_reported(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(NotFoundError):
        store.get("0" * 64)
    raw = b"Subject: y\r\n\r\nbody\r\n"
    sha = sha256_of(raw)
    store.put(sha, raw)
    path = store.path_of(sha)
    path.chmod(0o600)
    path.write_bytes(b"not zstd at all")
    with pytest.raises(ArchiveError, match="damaged"):
        store.get(sha)


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "tiny", "256k") as mount:
        yield mount


def test_full_disk_is_a_clear_error_and_leaves_no_partial_blob(tiny_filesystem: Path) -> None:
    store = LocalBlobStore(tiny_filesystem / "blobs", compression_level=1)
    raw = os.urandom(400 * 1024)  # incompressible, larger than the file system
    sha = sha256_of(raw)
    with pytest.raises(ArchiveError, match="disk full"):
        store.put(sha, raw)
    assert not store.exists(sha)
    leftovers = [p for p in (tiny_filesystem / "blobs").rglob("*") if p.is_file()]
    assert leftovers == []
    small = b"Subject: fits\r\n\r\nok\r\n"
    store.put(sha256_of(small), small)  # space is still usable after the failure
    assert store.get(sha256_of(small)) == small


def test_store_is_private_to_its_owner(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    raw = b"Subject: private\r\n\r\nsalary list\r\n"
    store.put(sha256_of(raw), raw)
    path = store.path_of(sha256_of(raw))
    for directory in (path.parent, tmp_path / "blobs"):
        assert stat.S_IMODE(directory.stat().st_mode) & 0o007 == 0, directory
    assert stat.S_IMODE(path.stat().st_mode) == 0o440
