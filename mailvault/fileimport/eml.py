"""Single-message files (.eml and the like), named one by one or found in folders, recursively.

Every file is archived as a message, parseable or not (an unparseable one is flagged): what looks
like junk may be the one message that matters. Only hidden files and mbox files are passed over,
the latter with a pointer to `mailvault import mbox`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.models import SourceKind
from mailvault.fileimport.reader import Found, Item, Unreadable, read_limited


class EmlReader:
    def __init__(self, paths: list[Path], *, owner: str | None, max_message_size: int) -> None:
        self.owner = owner
        self.limit = max_message_size
        self.files: list[tuple[Path, bool]] = []  # (path, named explicitly)
        for path in paths:
            if path.is_dir():
                self.files.extend(
                    (f, False)
                    for f in sorted(path.rglob("*"))
                    if f.is_file() and not any(p.startswith(".") for p in f.relative_to(path).parts)
                )
            else:
                self.files.append((path, True))
        self.total_bytes = sum(_size(f) for f, _ in self.files)

    def __iter__(self) -> Iterator[Item]:
        for path, explicit in self.files:
            if not explicit and path.suffix.lower() == ".mbox":
                yield Unreadable(str(path), "skipped: an mbox file; use `mailvault import mbox`")
                continue
            data = read_limited(path, self.limit)
            if isinstance(data, Unreadable):
                yield data
                continue
            source = SourceInfo(
                kind=SourceKind.FILE,
                origin=str(path.absolute()),
                folder=path.parent.name,
                owner=self.owner,
                detail={"format": "eml"},
            )
            yield Found(Arrival(data, source), len(data))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
