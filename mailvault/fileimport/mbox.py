"""mbox files, read as a stream: memory stays flat however large the file.

A message starts at a `From ` line at the top of the file or after an empty line, and only if
it looks like a real separator (`From sender date-with-time`): sloppy writers leave body lines
such as "From the factory: ..." unescaped, and those must not split a message. The stored bytes are exactly
those between separators: the `From ` line itself is recorded as arrival detail, and `>From`
escapes are kept as found (which variant of mbox quoting a writer used cannot be known).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.models import SourceKind
from mailvault.fileimport.reader import Found, Item, Unreadable

# "From " sender, then a date containing a time: `From MAILER-DAEMON Fri Jul  8 12:08:34 2011`.
_SEPARATOR = re.compile(rb"^From \S+ +.*\d{1,2}:\d{2}")


class MboxReader:
    def __init__(self, path: Path, *, owner: str | None, max_message_size: int) -> None:
        self.path = path
        self.owner = owner
        self.limit = max_message_size
        try:
            self.total_bytes = path.stat().st_size
        except OSError:
            self.total_bytes = 0

    def __iter__(self) -> Iterator[Item]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            yield Unreadable(str(self.path), exc.strerror or str(exc))
            return
        with handle:
            yield from self._split(handle)

    def _split(self, handle: BinaryIO) -> Iterator[Item]:
        first = handle.readline()
        handle.seek(0)
        if first and not _SEPARATOR.match(first):
            yield Unreadable(
                str(self.path),
                "not an mbox file (it does not start with a 'From ' line); "
                "for single messages use `mailvault import eml`",
                self.total_bytes,
            )
            return
        lines: list[bytes] = []
        size = 0
        start = 0
        from_line = b""
        oversize = False
        offset = 0
        previous_blank = True
        for line in handle:
            if previous_blank and _SEPARATOR.match(line):
                if from_line or lines:
                    yield self._finish(lines, size, start, from_line, oversize, offset - start)
                lines, size, oversize = [], 0, False
                start, from_line = offset, line
            elif not oversize:
                size += len(line)
                if size > self.limit:
                    oversize, lines = True, []
                else:
                    lines.append(line)
            else:
                size += len(line)
            offset += len(line)
            previous_blank = line in (b"\n", b"\r\n")
        if from_line or lines:
            yield self._finish(lines, size, start, from_line, oversize, offset - start)

    def _finish(
        self,
        lines: list[bytes],
        size: int,
        start: int,
        from_line: bytes,
        oversize: bool,
        consumed: int,
    ) -> Item:
        where = f"{self.path} at byte {start}"
        if oversize:
            return Unreadable(
                where,
                f"larger than [ingest] max_message_size ({size} > {self.limit} bytes)",
                consumed,
            )
        # The empty line before the next separator belongs to the mbox format, not the message.
        if lines and lines[-1] in (b"\n", b"\r\n") and len(lines) > 1:
            lines.pop()
        raw = b"".join(lines)
        if not raw.strip():
            return Unreadable(where, "empty mbox entry", consumed)
        source = SourceInfo(
            kind=SourceKind.FILE,
            origin=str(self.path.absolute()),
            folder=self.path.stem,
            locator=str(start),
            owner=self.owner,
            detail={"format": "mbox", "from_line": from_line.decode("latin-1").rstrip("\r\n")},
        )
        return Found(Arrival(raw, source), consumed)
