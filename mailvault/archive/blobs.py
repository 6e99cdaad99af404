"""Content-addressed store of raw messages: SHA-256 of the exact bytes names a zstd file.

A blob is written once and never changed: compressed to a temp file, fsynced, hard-linked into
place (which fails rather than replacing an existing blob), and its directory fsynced. A batch
shares the directory fsyncs. Callers see only the BlobStore interface, so another backend
(S3-compatible) can stand behind it. Nothing deletes a blob but the retention purge
(mailvault.retention.purge), through purge_blobs, after the rows naming the blobs are gone.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import uuid
from collections.abc import Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import zstandard

from mailvault.durable import describe_write_error, fsync_dir
from mailvault.errors import ArchiveError, NotFoundError

_SUFFIX = ".zst"
_HASH = re.compile(r"^[0-9a-f]{64}$")


class BlobStore(Protocol):
    """Where raw messages live. Every method is safe to call from several threads."""

    def put(self, sha256: str, raw: bytes) -> int:
        """Store `raw` under its hash, durably, unless present; return the stored size."""
        ...

    def put_many(self, blobs: Mapping[str, bytes]) -> dict[str, int]:
        """`put` for many blobs at once: all are durable when it returns; stored sizes by hash."""
        ...

    def close(self) -> None: ...

    def get(self, sha256: str) -> bytes:
        """The exact bytes stored under `sha256`; NotFoundError when absent."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def stored_size(self, sha256: str) -> int: ...

    def hashes(self) -> Iterator[str]:
        """Every hash in the store, in no particular order."""
        ...

    def purge_blobs(self, sha256s: Collection[str]) -> set[str]:
        """Delete these blobs for good, durably; return the hashes that were present. Only the
        retention purge may call this, once the database no longer names the blobs."""
        ...


def sha256_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class LocalBlobStore:
    """Blobs as files `<root>/ab/<sha256>.zst` on a local POSIX file system.

    One level of 256 folders: ten million messages make 40,000 files a folder, which ext4 and XFS
    index well, while a second level would cost a 4 KiB folder per blob for the first 65,000.
    """

    def __init__(self, root: Path, compression_level: int = 3, *, threads: int = 8) -> None:
        self.root = root
        self.level = compression_level
        self._local = threading.local()
        # fsync releases the GIL: parallel writers let the file system commit them together.
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="blob-writer")
        try:
            root.mkdir(mode=0o750, parents=True, exist_ok=True)
        except OSError as exc:
            raise ArchiveError(f"cannot create blob store {root}: {exc.strerror}") from exc

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / (sha256 + _SUFFIX)

    def put(self, sha256: str, raw: bytes) -> int:
        return self.put_many({sha256: raw})[sha256]

    def put_many(self, blobs: Mapping[str, bytes]) -> dict[str, int]:
        sizes: dict[str, int] = {}
        todo: dict[str, bytes] = {}
        for sha256, raw in blobs.items():
            try:
                sizes[sha256] = self.path_of(sha256).stat().st_size  # stored already: never rewrite
            except FileNotFoundError:
                todo[sha256] = raw
        if not todo:
            return sizes
        try:
            for directory in {self.path_of(sha).parent for sha in todo}:
                self._make_dir(directory)
            written = list(self._pool.map(self._write_new, todo.items()))
            for directory in {path.parent for path, _ in written}:
                fsync_dir(directory)  # makes every link into this folder durable at once
        except OSError as exc:
            raise ArchiveError(describe_write_error(exc, "store a message", self.root)) from exc
        for path, size in written:
            sizes[path.name.removesuffix(_SUFFIX)] = size
        return sizes

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def get(self, sha256: str) -> bytes:
        path = self.path_of(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"blob {sha256} is missing from {self.root}") from None
        except OSError as exc:
            raise ArchiveError(f"cannot read blob {path}: {exc.strerror}") from exc
        try:
            return self._decompressor().decompress(data)
        except zstandard.ZstdError as exc:
            raise ArchiveError(f"blob {path} is damaged ({exc}); restore it from backup") from exc

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).exists()

    def stored_size(self, sha256: str) -> int:
        try:
            return self.path_of(sha256).stat().st_size
        except FileNotFoundError:
            raise NotFoundError(f"blob {sha256} is missing from {self.root}") from None

    def hashes(self) -> Iterator[str]:
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or len(folder.name) != 2:
                continue
            for entry in folder.iterdir():
                if entry.name.endswith(_SUFFIX) and not entry.name.startswith("."):
                    yield entry.name.removesuffix(_SUFFIX)

    def purge_blobs(self, sha256s: Collection[str]) -> set[str]:
        removed: set[str] = set()
        try:
            for sha256 in sha256s:
                if not _HASH.match(sha256):
                    raise ArchiveError(f"{sha256!r} is not a blob hash; refusing to delete anything by it")
                try:
                    self.path_of(sha256).unlink()
                except FileNotFoundError:
                    continue
                removed.add(sha256)
            for directory in {self.path_of(sha).parent for sha in removed}:
                fsync_dir(directory)  # the unlinks survive a crash: a purged message stays purged
        except OSError as exc:
            raise ArchiveError(f"cannot delete purged blobs in {self.root}: {exc.strerror or exc}") from exc
        return removed

    def _write_new(self, item: tuple[str, bytes]) -> tuple[Path, int]:
        """Compress, write, fsync and link one blob; the caller fsyncs its folder."""
        sha256, raw = item
        final = self.path_of(sha256)
        data = self._compressor().compress(raw)
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o440)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                # link() refuses to replace an existing file, unlike rename(): a blob is never
                # overwritten, even by a concurrent writer of the same bytes.
                os.link(tmp, final)
            except FileExistsError:
                return final, final.stat().st_size
        finally:
            tmp.unlink(missing_ok=True)
        return final, len(data)

    def _make_dir(self, directory: Path) -> None:
        if not directory.is_dir():
            directory.mkdir(mode=0o750, exist_ok=True)
            fsync_dir(directory.parent)

    def _compressor(self) -> zstandard.ZstdCompressor:
        # zstd contexts are not thread-safe; each writer thread keeps its own.
        compressor: zstandard.ZstdCompressor | None = getattr(self._local, "compressor", None)
        if compressor is None:
            compressor = zstandard.ZstdCompressor(
                level=self.level, write_checksum=True, write_content_size=True
            )
            self._local.compressor = compressor
        return compressor

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        decompressor: zstandard.ZstdDecompressor | None = getattr(self._local, "decompressor", None)
        if decompressor is None:
            decompressor = zstandard.ZstdDecompressor()
            self._local.decompressor = decompressor
        return decompressor
