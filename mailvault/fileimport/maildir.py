"""Maildir and Maildir++ trees: cur/ and new/ of the top folder and of every `.Sub.Folder`.

tmp/ holds deliveries in progress and is never read. Folder names are decoded from modified
UTF-7 (`.&XfJT0ZAB-` is 已发送). A message is identified by its unique base name, so a flag
change (which renames the file) does not make it a new arrival.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.models import SourceKind
from mailvault.fileimport.reader import Found, Item, Unreadable, read_limited
from mailvault.imapsync.mutf7 import decode_mutf7


def is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() or (path / "new").is_dir()


def _folders(root: Path) -> list[tuple[str, Path]]:
    """(display name, directory) of the Maildir itself and each Maildir++ sub-folder."""
    found: list[tuple[str, Path]] = []
    if is_maildir(root):
        found.append(("INBOX", root))
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.startswith(".") and is_maildir(child):
            parts = child.name[1:].split(".")
            found.append(("/".join(decode_mutf7(p) for p in parts), child))
    return found


class MaildirReader:
    def __init__(self, root: Path, *, owner: str | None, max_message_size: int) -> None:
        self.root = root
        self.owner = owner
        self.limit = max_message_size
        self.files: list[tuple[str, Path]] = []
        for folder, directory in _folders(root):
            for sub in ("new", "cur"):
                box = directory / sub
                if box.is_dir():
                    self.files.extend(
                        (folder, f) for f in sorted(box.iterdir()) if not f.name.startswith(".")
                    )
        self.total_bytes = sum(_size(f) for _, f in self.files)

    def __iter__(self) -> Iterator[Item]:
        origin = str(self.root.absolute())
        for folder, path in self.files:
            data = read_limited(path, self.limit)
            if isinstance(data, Unreadable):
                yield data
                continue
            base, _, info = path.name.partition(":2,")
            source = SourceInfo(
                kind=SourceKind.FILE,
                origin=origin,
                folder=folder,
                locator=base,
                owner=self.owner,
                flags=_flags(info),
                detail={"format": "maildir", "path": str(path.relative_to(self.root))},
            )
            yield Found(Arrival(data, source), len(data))


def _flags(info: str) -> str:
    """Maildir info letters as IMAP flags (D=Draft F=Flagged P=Passed R=Answered S=Seen T=Deleted)."""
    names = {
        "D": "\\Draft",
        "F": "\\Flagged",
        "P": "$Forwarded",
        "R": "\\Answered",
        "S": "\\Seen",
        "T": "\\Deleted",
    }
    return " ".join(names[c] for c in info if c in names)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
