"""The receive journal: every accepted message and how it arrived, fsynced before it is
acknowledged (the gateway's 250, an IMAP import's checkpoint).

Records are appended to segment files; concurrent writers share one write and one fsync (group
commit). A record is `MVS1`, header length (u32), message length (u64), the header (JSON: the
SMTP envelope, client and time, or a whole described arrival), the exact message bytes, and a
CRC-32 of header and message. A crash can only leave a torn record at the end of a segment, one
that was never acknowledged: readers stop there. A drain (drain.py) archives records and removes
a segment once all of it is archived; the spool is a queue in front of the archive, not the
archive. One process owns a spool directory (an exclusive lock); it publishes its progress to
the drain (state.py).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import queue
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mailvault.durable import describe_write_error, fsync_dir
from mailvault.errors import ArchiveError
from mailvault.journal.state import SpoolState, segment_name, segment_stamp

log = logging.getLogger(__name__)

MAGIC = b"MVS1"
_HEAD = struct.Struct(">4sIQ")
_CRC = struct.Struct(">I")

# A record waiting for its group commit: header bytes, message, and the session waiting for it.
_Pending = tuple[bytes, bytes, asyncio.Future[tuple[str, int]]]
_Batch = tuple[asyncio.AbstractEventLoop, list[_Pending]]  # the loop that waits for it


# What a second writer is told, {directory} filled in.
GATEWAY_BUSY = (
    "another mailvault gateway is using the spool {directory}: stop it, or give this one its own "
    "[smtp] spool_dir"
)


class SpoolError(ArchiveError):
    """The journal could not be written: the message was not accepted (the client gets 4xx)."""


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    segment: str
    offset: int
    length: int  # of the whole record in the segment
    header: dict[str, Any]
    raw: bytes


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # json.dumps makes one a call


def _encode_header(header: dict[str, Any]) -> bytes:
    return _JSON.encode(header).encode("utf-8", "surrogateescape")


def _framed(head: bytes, raw: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """A record's parts, in order; the writer thread joins them (the CRC of a large message then
    runs there too: zlib lets go of the GIL for it)."""
    crc = zlib.crc32(raw, zlib.crc32(head))
    return _HEAD.pack(MAGIC, len(head), len(raw)), head, raw, _CRC.pack(crc)


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


def torn_tail(path: Path, offset: int) -> bool:
    """True if what follows `offset` is one record cut short by a crash (or blocks the file system
    allocated but never filled); False if intact-looking data follows: damage, not a crash."""
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        handle.seek(offset)
        head = handle.read(_HEAD.size)
        if len(head) < _HEAD.size:
            return True
        magic, head_len, raw_len = _HEAD.unpack(head)
        if magic == MAGIC:
            end: int = offset + _HEAD.size + head_len + raw_len + _CRC.size
            return end > size
        handle.seek(offset)
        while block := handle.read(1 << 20):
            if block.strip(b"\0"):
                return False
        return True


class Spool:
    """Appends records durably; one writer thread, group commit, segment rotation."""

    def __init__(
        self, directory: Path, segment_size: int = 64 * 1024 * 1024, *, busy: str = GATEWAY_BUSY
    ) -> None:
        self.directory = directory
        self.segment_size = segment_size
        try:
            directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"cannot create the spool {directory}: {exc.strerror}") from exc
        self._owner = lock_file(directory / ".lock", busy.format(directory=directory))
        self._pending: list[_Pending] = []
        self._committing = False  # a batch is with the writer thread
        self._drained: asyncio.Future[None] | None = None  # close() waiting for the last batch
        self._batches: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None  # started with the first record
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._segment: Path | None = None
        self._stamp = 0
        self._size = 0
        # Stamps only grow, and start above every segment already here, whatever the clock does.
        earlier = [segment_stamp(p) for p in directory.iterdir()]
        self._started = max([time.time_ns(), *(s + 1 for s in earlier)])
        self.state = SpoolState()
        self.state.start(self._started)
        self._closed = False

    # -- writing -------------------------------------------------------------------------

    async def append(self, header: dict[str, Any], raw: bytes) -> tuple[str, int]:
        """Write one record; return (segment, offset) once it is durable on disk."""
        if self._closed:
            raise SpoolError(f"the spool {self.directory} is closed (mailvault is stopping)")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[str, int]] = loop.create_future()
        self._pending.append((_encode_header(header), raw, future))
        if not self._committing:
            self._commit(loop)
        return await future

    def _commit(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand what is pending to the writer thread, which answers through `_committed`. No task
        and no executor future in between: this runs once or more for every few messages."""
        batch, self._pending = self._pending, []
        self._committing = True
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="spool-writer", daemon=True)
            self._writer.start()
        self._batches.put((loop, batch))

    def _write_loop(self) -> None:
        """The writer thread. A daemon: were it cut off at exit, what it had not fsynced was never
        acknowledged either (a torn tail, which readers stop at)."""
        while (work := self._batches.get()) is not None:
            loop, batch = work
            outcome: list[tuple[str, int]] | Exception
            try:
                outcome = self._write_batch(batch)
            except Exception as exc:  # not handled here: each session waiting for it answers 451
                outcome = exc
            try:
                loop.call_soon_threadsafe(self._committed, batch, outcome)
            except RuntimeError:
                return  # the event loop is closed: nobody is waiting any more

    def _committed(self, batch: list[_Pending], outcome: list[tuple[str, int]] | Exception) -> None:
        for index, (_, _, future) in enumerate(batch):
            if future.done():
                continue  # the session went away meanwhile
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome[index])
        self._committing = False
        if self._pending:
            self._commit(asyncio.get_running_loop())
        elif self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _write_batch(self, records: list[_Pending]) -> list[tuple[str, int]]:
        """One write and one fsync for every record (header, message, ...) that arrived since the
        last commit."""
        with self._lock:
            if self._fd is None or self._size >= self.segment_size:
                self._open_segment()
            fd, name, start = self._fd, self._segment_name, self._size
            if fd is None:
                raise SpoolError(f"no open journal segment in {self.directory}")
            positions = []
            parts: list[bytes] = []
            offset = start
            for head, raw, _ in records:
                positions.append((name, offset))
                parts.extend(_framed(head, raw))
                offset += _HEAD.size + len(head) + len(raw) + _CRC.size
            try:
                data = memoryview(b"".join(parts))
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            except OSError as exc:
                self._undo(fd, start)
                raise SpoolError(describe_write_error(exc, "journal a message", self.directory)) from exc
            self._size = offset
            self.state.publish(self._stamp, offset)
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
        stamp = max(time.time_ns(), self._stamp + 1, self._started)
        path = self.directory / segment_name(stamp, os.getpid())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o640)
            fsync_dir(self.directory)  # the segment must exist after a crash before any record in it counts
        except OSError as exc:
            raise SpoolError(describe_write_error(exc, "journal a message", self.directory)) from exc
        self._fd, self._segment, self._stamp, self._size = fd, path, stamp, 0
        self.state.publish(stamp, 0)

    @property
    def _segment_name(self) -> str:
        return self._segment.name if self._segment is not None else ""

    async def close(self) -> None:
        self._closed = True
        while self._committing:
            if self._drained is None or self._drained.done():
                self._drained = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drained)  # another closer may wait for it too
        if self._writer is not None:
            self._batches.put(None)
            self._writer.join()  # idle: nothing is pending
            self._writer = None
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        self.state.close()
        self._owner.close()  # the lock goes with the descriptor


def lock_file(path: Path, busy: str) -> TextIO:
    """Hold `path` (an exclusive lock, gone with the process) or raise SpoolError(busy): two
    writers on one spool would archive and remove each other's segments."""
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise SpoolError(busy) from exc
    return handle
