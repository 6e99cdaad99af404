"""Reading IMAP server responses (RFC 3501 §7): folder lists, EXAMINE data and FETCH items.

aioimaplib hands a command's response over as a list: untagged lines without their `* `, each
literal as a bytearray right after the line that announced it (`... {1234}`), and the tagged
line's text last. These functions turn that into values; they never see the network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mailvault.imapsync.mutf7 import decode_mutf7

Line = bytes | bytearray

_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}$")
_FETCH_START = re.compile(rb"^(\d+) FETCH \(")
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_INTERNALDATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_SECTION_BEFORE_LITERAL = re.compile(rb"(BODY\[[^\]]*\](?:<\d+>)?) \{\d+\+?\}$")
_SECTION_QUOTED = re.compile(rb'(BODY\[[^\]]*\](?:<\d+>)?) "((?:[^"\\]|\\.)*)"')
_SECTION_NIL = re.compile(rb"(BODY\[[^\]]*\](?:<\d+>)?) NIL")
_LIST = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delimiter>NIL|"(?:[^"\\]|\\.)*") ?(?P<name>.*)$')
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_HIGHESTMODSEQ = re.compile(rb"\[HIGHESTMODSEQ (\d+)\]")
_EXISTS = re.compile(rb"^(\d+) EXISTS$")
_SEARCH = re.compile(rb"^(?:SEARCH\b)?([\d ]*)$")  # aioimaplib drops the word SEARCH

# RFC 6154 special-use attributes, which name a folder's role whatever its name or language.
SPECIAL_USE = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")


@dataclass(frozen=True, slots=True)
class Folder:
    name: str  # as the server spells it (modified UTF-7): what commands must send
    delimiter: str
    flags: frozenset[str]

    @property
    def display(self) -> str:
        """The name a person reads: `&XfJT0ZAB-` is 已发送."""
        return decode_mutf7(self.name)

    @property
    def selectable(self) -> bool:
        lowered = {f.lower() for f in self.flags}
        return not ({"\\noselect", "\\nonexistent"} & lowered)

    @property
    def special_use(self) -> str | None:
        lowered = {f.lower(): f for f in self.flags}
        return next((use for use in SPECIAL_USE if use.lower() in lowered), None)


@dataclass(frozen=True, slots=True)
class FolderStatus:
    uidvalidity: int
    uidnext: int | None
    exists: int
    highestmodseq: int | None = None


@dataclass(slots=True)
class FetchItem:
    """One message's data from a FETCH response."""

    sequence: int
    uid: int | None = None
    size: int | None = None
    internaldate: datetime | None = None
    flags: tuple[str, ...] = ()
    sections: dict[str, bytes] = field(default_factory=dict)  # "BODY[]" -> bytes


def unquote(value: bytes) -> bytes:
    if len(value) >= 2 and value[:1] == b'"' and value[-1:] == b'"':
        return re.sub(rb"\\(.)", rb"\1", value[1:-1])
    return value


def parse_list(lines: Sequence[Line]) -> list[Folder]:
    """LIST responses; a name sent as a literal comes as the next element."""
    folders = []
    body = list(lines[:-1])  # the last element is the tagged line's text
    i = 0
    while i < len(body):
        line = bytes(body[i])
        i += 1
        match = _LIST.match(line)
        if match is None:
            continue
        raw_name = match.group("name")
        if _LITERAL_AT_END.fullmatch(raw_name) and i < len(body) and isinstance(body[i], bytearray):
            raw_name = bytes(body[i])
            i += 1
        else:
            raw_name = unquote(raw_name)
        delimiter = unquote(match.group("delimiter"))
        flags = frozenset(match.group("flags").decode("ascii", "replace").split())
        name = raw_name.decode("utf-8", "surrogateescape")
        folders.append(
            Folder(name, "" if delimiter == b"NIL" else delimiter.decode("ascii", "replace"), flags)
        )
    return folders


def parse_status(lines: Sequence[Line]) -> FolderStatus:
    """SELECT/EXAMINE data. A server without UIDVALIDITY cannot be synced incrementally."""
    uidvalidity = uidnext = highestmodseq = None
    exists = 0
    for raw in lines:
        line = bytes(raw)
        if (m := _UIDVALIDITY.search(line)) is not None:
            uidvalidity = int(m.group(1))
        elif (m := _UIDNEXT.search(line)) is not None:
            uidnext = int(m.group(1))
        elif (m := _HIGHESTMODSEQ.search(line)) is not None:
            highestmodseq = int(m.group(1))
        elif (m := _EXISTS.match(line)) is not None:
            exists = int(m.group(1))
    if uidvalidity is None:
        raise ValueError("the server sent no UIDVALIDITY for the folder")
    return FolderStatus(uidvalidity, uidnext, exists, highestmodseq)


def parse_search(lines: Sequence[Line]) -> list[int]:
    uids: list[int] = []
    for raw in lines[:-1]:
        match = _SEARCH.match(bytes(raw))
        if match is not None:
            uids.extend(int(n) for n in match.group(1).split())
    return uids


def parse_fetch(lines: Sequence[Line]) -> list[FetchItem]:
    """FETCH items in the order the server sent them. Literals belong to the section named just
    before them; items may carry UID and the other attributes before or after their literals."""
    items: list[FetchItem] = []
    current: FetchItem | None = None
    text = bytearray()  # the item's attribute text outside literals
    pending_section: bytes | None = None

    def finish() -> None:
        if current is not None:
            _read_attributes(current, bytes(text))
            items.append(current)

    for element in lines[:-1]:
        if isinstance(element, bytearray):
            if current is not None and pending_section is not None:
                current.sections[pending_section.decode("ascii")] = bytes(element)
            pending_section = None
            continue
        start = _FETCH_START.match(element)
        if start is not None:
            finish()
            current = FetchItem(int(start.group(1)))
            text = bytearray()
        if current is None:
            continue
        text += element + b" "
        literal = _SECTION_BEFORE_LITERAL.search(element)
        pending_section = literal.group(1) if literal is not None else None
    finish()
    return items


def _read_attributes(item: FetchItem, text: bytes) -> None:
    if (m := _UID.search(text)) is not None:
        item.uid = int(m.group(1))
    if (m := _SIZE.search(text)) is not None:
        item.size = int(m.group(1))
    if (m := _INTERNALDATE.search(text)) is not None:
        item.internaldate = parse_internaldate(m.group(1).decode("ascii", "replace"))
    if (m := _FLAGS.search(text)) is not None:
        item.flags = tuple(m.group(1).decode("ascii", "replace").split())
    for m in _SECTION_QUOTED.finditer(text):
        item.sections.setdefault(m.group(1).decode("ascii"), unquote(b'"' + m.group(2) + b'"'))
    for m in _SECTION_NIL.finditer(text):
        item.sections.setdefault(m.group(1).decode("ascii"), b"")


def parse_internaldate(value: str) -> datetime | None:
    """`27-Nov-2026 14:39:22 +0800` (the day may be space-padded); None when unreadable."""
    try:
        return datetime.strptime(value.strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None
