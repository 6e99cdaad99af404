"""The receive journal: every accepted message and its envelope, fsynced before the 250.

Records are appended to segment files; concurrent sessions share one write and one fsync (group
commit). A record is `MVS1`, header length (u32), message length (u64), the header (JSON:
envelope, client, time), the exact message bytes, and a CRC-32 of header and message. A crash can
only leave a torn record at the end of a segment, one that was never acknowledged: readers stop
there. The drain worker (drain.py) archives records and removes a segment once all of it is
archived; the spool is a queue in front of the archive, not the archive.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailvault.durable import describe_write_error, fsync_dir
from mailvault.errors import ArchiveError

log = logging.getLogger(__name__)

MAGIC = b"MVS1"
_HEAD = struct.Struct(">4sIQ")
_CRC = struct.Struct(">I")
_SUFFIX = ".spool"


class SpoolError(ArchiveError):
    """The journal could not be written: the message was not accepted (the client gets 4xx)."""


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    segment: str
    offset: int
    length: int  # of the whole record in the segment
    header: dict[str, Any]
    raw: bytes


def encode(header: dict[str, Any], raw: bytes) -> bytes:
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogateescape")
    crc = zlib.crc32(raw, zlib.crc32(head))
    return _HEAD.pack(MAGIC, len(head), len(raw)) + head + raw + _CRC.pack(crc)


def read_segment(path: Path, start: int = 0, end: int | None = None) -> Iterator[SpoolRecord]:
    """The intact records of a segment from `start`, stopping at a torn or damaged tail."""
    with path.open("rb") as handle:
        handle.seek(start)
        offset = start
        while end is None or offset < end:
            head = handle.read(_HEAD.size)
            if len(head) < _HEAD.size:
                return
            magic, head_len, raw_len = _HEAD.unpack(head)
            if magic != MAGIC:
                log.warning(
                    "spool %s: damaged record at byte %d; the rest was never acknowledged", path.name, offset
                )
                return
            body = handle.read(head_len + raw_len + _CRC.size)
            if len(body) < head_len + raw_len + _CRC.size:
                return  # torn: written when the process died, before its fsync, never acknowledged
            header_bytes, raw = body[:head_len], body[head_len : head_len + raw_len]
            (crc,) = _CRC.unpack(body[head_len + raw_len :])
            if zlib.crc32(raw, zlib.crc32(header_bytes)) != crc:
                log.warning(
                    "spool %s: bad checksum at byte %d; the rest was never acknowledged", path.name, offset
                )
                return
            header = json.loads(header_bytes.decode("utf-8", "surrogateescape"))
            length = _HEAD.size + len(body)
            yield SpoolRecord(path.name, offset, length, header, raw)
            offset += length


class Spool:
    """Appends records durably; one writer thread, group commit, segment rotation."""

    def __init__(self, directory: Path, segment_size: int = 64 * 1024 * 1024) -> None:
        self.directory = directory
        self.segment_size = segment_size
        try:
            directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"cannot create the spool {directory}: {exc.strerror}") from exc
        self._pending: list[tuple[bytes, asyncio.Future[tuple[str, int]]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="spool-writer")
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._segment: Path | None = None
        self._size = 0
        self._committed: dict[str, int] = {}  # segment name -> bytes durable in it
        self.changed = asyncio.Event()  # set whenever records become durable
        self._closed = False

    # -- writing -------------------------------------------------------------------------

    async def append(self, header: dict[str, Any], raw: bytes) -> tuple[str, int]:
        """Write one record; return (segment, offset) once it is durable on disk."""
        if self._closed:
            raise SpoolError(f"the spool {self.directory} is closed (mailvault is stopping)")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[str, int]] = loop.create_future()
        self._pending.append((encode(header, raw), future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_loop())
        return await future

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                positions = await loop.run_in_executor(self._writer, self._write_batch, [b for b, _ in batch])
            except SpoolError as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), position in zip(batch, positions, strict=True):
                if not future.done():
                    future.set_result(position)
            self.changed.set()

    def _write_batch(self, records: list[bytes]) -> list[tuple[str, int]]:
        """One write and one fsync for every record that arrived since the last commit."""
        with self._lock:
            if self._fd is None or self._size >= self.segment_size:
                self._open_segment()
            fd, name, start = self._fd, self._segment_name, self._size
            if fd is None:
                raise SpoolError(f"no open journal segment in {self.directory}")
            positions = []
            offset = start
            for record in records:
                positions.append((name, offset))
                offset += len(record)
            try:
                data = memoryview(b"".join(records))
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            except OSError as exc:
                self._undo(fd, start)
                raise SpoolError(describe_write_error(exc, "journal a message", self.directory)) from exc
            self._size = offset
            self._committed[name] = offset
            return positions

    def _undo(self, fd: int, start: int) -> None:
        """Cut a failed batch off the segment, so later records never follow garbage."""
        try:
            os.ftruncate(fd, start)
            os.fsync(fd)
        except OSError:
            os.close(fd)  # the next batch starts a new segment
            self._fd = None

    def _open_segment(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        name = f"{time.time_ns():020d}-{os.getpid()}{_SUFFIX}"
        path = self.directory / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o640)
            fsync_dir(self.directory)  # the segment must exist after a crash before any record in it counts
        except OSError as exc:
            raise SpoolError(describe_write_error(exc, "journal a message", self.directory)) from exc
        self._fd, self._segment, self._size = fd, path, 0
        self._committed[name] = 0

    @property
    def _segment_name(self) -> str:
        return self._segment.name if self._segment is not None else ""

    async def close(self) -> None:
        self._closed = True
        while self._committer is not None and not self._committer.done():
            await self._committer
        self._writer.shutdown(wait=True)
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    # -- reading (for the drain worker) -------------------------------------------------

    def segments(self) -> list[Path]:
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX))

    def durable_size(self, segment: Path) -> int | None:
        """Bytes of `segment` known durable in this process; None for segments of earlier runs."""
        with self._lock:
            return self._committed.get(segment.name)

    def is_active(self, segment: Path) -> bool:
        with self._lock:
            return self._segment is not None and segment.name == self._segment.name

    def remove(self, segment: Path) -> None:
        """Delete a segment every record of which is archived."""
        with self._lock:
            if self._segment is not None and segment.name == self._segment.name:
                return  # still being written
            self._committed.pop(segment.name, None)
        segment.unlink(missing_ok=True)
        fsync_dir(self.directory)
