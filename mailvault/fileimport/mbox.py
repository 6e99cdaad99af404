"""mbox files, read as a stream: memory stays flat however large the file.

A message starts at a `From ` line at the top of the file or after an empty line, and only if
it looks like a real separator (`From sender date-with-time`): sloppy writers leave body lines
such as "From the factory: ..." unescaped, and those must not split a message. The stored bytes are exactly
those between separators: the `From ` line itself is recorded as arrival detail, and `>From`
escapes are kept as found (which variant of mbox quoting a writer used cannot be known).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.models import SourceKind
from mailvault.fileimport.mboxsplit import SEPARATOR, Entry, split_mbox
from mailvault.fileimport.reader import Found, Item, Unreadable


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
        if first and not SEPARATOR.match(first):
            yield Unreadable(
                str(self.path),
                "not an mbox file (it does not start with a 'From ' line); "
                "for single messages use `mailvault import eml`",
                self.total_bytes,
            )
            return
        for entry in split_mbox(handle, self.limit):
            yield self._item(entry)

    def _item(self, entry: Entry) -> Item:
        where = f"{self.path} at byte {entry.offset}"
        if entry.raw is None:
            return Unreadable(
                where,
                f"larger than [ingest] max_message_size ({entry.size} > {self.limit} bytes)",
                entry.consumed,
            )
        if not entry.raw.strip():
            return Unreadable(where, "empty mbox entry", entry.consumed)
        source = SourceInfo(
            kind=SourceKind.FILE,
            origin=str(self.path.absolute()),
            folder=self.path.stem,
            locator=str(entry.offset),
            owner=self.owner,
            detail={"format": "mbox", "from_line": entry.from_line.decode("latin-1")},
        )
        return Found(Arrival(entry.raw, source), entry.consumed)
