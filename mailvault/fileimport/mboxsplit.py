"""Splits an mbox stream into entries by scanning 1 MiB blocks, not lines: memory stays bounded
by the largest message kept, and a separator search is one regular-expression scan per block."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# "From " sender, then a date containing a time: `From MAILER-DAEMON Fri Jul  8 12:08:34 2011`.
SEPARATOR = re.compile(rb"From \S+ +[^\n]*\d{1,2}:\d{2}")
# A line starting "From " after an empty line (the empty line belongs to the mbox format).
_CANDIDATE = re.compile(rb"\n\r?\nFrom ")
_BLOCK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Entry:
    offset: int  # of its `From ` line in the file
    from_line: bytes
    raw: bytes | None  # None when the entry is larger than the limit (it is skipped, not held)
    size: int  # bytes of the message (without the `From ` line and the separating empty line)
    consumed: int  # bytes of the file the entry spans, for progress


_TAIL = 8


def split_mbox(handle: BinaryIO, limit: int) -> Iterator[Entry]:
    """Entries of an mbox whose first line is a separator (the caller checks that)."""
    buf = bytearray()
    base = 0  # file offset of buf[0]
    eof = False
    start: int | None = None  # buf index of the current entry's `From ` line
    body = 0  # buf index where its message begins
    dropped = 0  # bytes of an oversize entry already discarded
    search = 0

    def fill() -> bool:
        nonlocal eof
        block = handle.read(_BLOCK)
        if block:
            buf.extend(block)
        else:
            eof = True
        return bool(block)

    fill()
    while True:
        if start is None:
            line_end = buf.find(b"\n")
            while line_end == -1 and not eof:
                fill()
                line_end = buf.find(b"\n")
            if not buf:
                return
            start, body = 0, (line_end + 1 if line_end != -1 else len(buf))
            search = max(body - 2, 0)
        match = _CANDIDATE.search(buf, search)
        if match is not None:
            line_start = match.end() - 5
            line_end = buf.find(b"\n", line_start)
            if line_end == -1 and not eof:
                fill()
                continue
            line = bytes(buf[line_start : line_end if line_end != -1 else len(buf)])
            if not SEPARATOR.match(line):
                search = match.start() + 1
                continue
            # The empty line before the separator is the format's, unless it is all there is.
            end = match.start() + 1 if match.start() + 1 > body else line_start
            yield _entry(buf, base, start, body, end, dropped, limit, line_start)
            del buf[:line_start]
            base += line_start + dropped  # dropped bytes were cut out of buf before line_start
            start, dropped = None, 0
            continue
        if eof:
            end = len(buf)
            last_line = max(buf.rfind(b"\n", body, end - 1) + 1, body)
            if last_line > body and bytes(buf[last_line:end]) in (b"\n", b"\r\n"):
                end = last_line  # a final empty line is the format's too
            yield _entry(buf, base, start, body, end, dropped, limit, len(buf))
            return
        # What follows the message may be the format's: a blank line and the start of the next
        # `From ` line (at most _TAIL bytes), so an entry of exactly `limit` bytes is not dropped.
        if len(buf) - body + dropped > limit + _TAIL:
            # Too large to keep: forget all but a tail that may hold the start of a separator.
            keep = min(len(buf) - body, _TAIL)
            cut = len(buf) - keep
            dropped += cut - body
            del buf[body:cut]
        search = max(len(buf) - 8, body)
        fill()


def _entry(
    buf: bytearray, base: int, start: int, body: int, end: int, dropped: int, limit: int, next_start: int
) -> Entry:
    size = end - body + dropped
    from_line = bytes(buf[start:body]).rstrip(b"\r\n")
    raw = bytes(buf[body:end]) if size <= limit and not dropped else None
    return Entry(base + start, from_line, raw, size, next_start - start + dropped)
