"""The block-scanning mbox splitter agrees with the obvious line-by-line definition."""

from __future__ import annotations

import io
import mailbox
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailvault.fileimport import mboxsplit
from mailvault.fileimport.mboxsplit import SEPARATOR, split_mbox


def reference(data: bytes, limit: int) -> list[tuple[int, bytes, bytes | None]]:
    """Line by line: a separator is a From_ line at the start or after an empty line; the empty
    line before the next separator is not part of the message."""
    entries: list[tuple[int, bytes, bytes | None]] = []
    lines = data.splitlines(keepends=True)
    offset, previous_blank = 0, True
    current: list[bytes] | None = None
    start, from_line = 0, b""

    def close() -> None:
        if current is None:
            return
        body = list(current)
        if len(body) > 1 and body[-1] in (b"\n", b"\r\n"):
            body.pop()
        raw = b"".join(body)
        entries.append((start, from_line, raw if len(raw) <= limit else None))

    for line in lines:
        if previous_blank and SEPARATOR.match(line):
            close()
            current, start, from_line = [], offset, line.rstrip(b"\r\n")
        elif current is not None:
            current.append(line)
        offset += len(line)
        previous_blank = line in (b"\n", b"\r\n")
    close()
    return entries


def split(data: bytes, limit: int) -> list[tuple[int, bytes, bytes | None]]:
    return [(e.offset, e.from_line, e.raw) for e in split_mbox(io.BytesIO(data), limit)]


lines = st.sampled_from(
    [
        b"From a@x Mon Jan  1 00:00:00 2024\n",
        b"From b@y Tue Feb  2 10:11:12 2021\r\n",
        b"From the factory: not a separator\n",
        b">From escaped\n",
        b"\n",
        b"\r\n",
        b"Subject: hello\n",
        b"body text \xe4\xbd\xa0\xe5\xa5\xbd\n",
        b"no newline at end",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(lines, max_size=40), st.sampled_from([10, 40, 10_000]))
# Exactly `limit` bytes, then the format's final blank line: kept, not dropped as oversize.
@example(
    body_lines=[b"\n", b"\n", b"\r\n", b"\r\n", b"body text \xe4\xbd\xa0\xe5\xa5\xbd\n"] * 1
    + [b"body text \xe4\xbd\xa0\xe5\xa5\xbd\n", b"\n"],
    limit=40,
)
def test_block_splitter_matches_line_definition(body_lines: list[bytes], limit: int) -> None:
    data = b"From first@x Mon Jan  1 00:00:00 2024\n" + b"".join(body_lines)
    assert split(data, limit) == reference(data, limit)


def test_small_blocks_and_large_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mboxsplit, "_BLOCK", 7)  # separators and lines straddle every block boundary
    parts = [
        b"From a@x Mon Jan  1 00:00:00 2024\nSubject: %d\n\n" % n + b"x" * (n * 13) + b"\n\n"
        for n in range(30)
    ]
    data = b"".join(parts)
    entries = list(split_mbox(io.BytesIO(data), 200))
    assert [(e.offset, e.from_line, e.raw) for e in entries] == reference(data, 200)
    assert sum(e.consumed for e in entries) == len(data)
    assert [e.raw is None for e in entries] == [len(p) - 35 > 200 for p in parts]


def test_agrees_with_the_stdlib_on_the_corpus_mbox(corpus: Path) -> None:
    path = corpus / "james-mime4j" / "mbox" / "rlug.mbox"
    ours = [raw for _, _, raw in split(path.read_bytes(), 10**8)]
    box = mailbox.mbox(path)
    try:
        assert ours == [box.get_bytes(key) for key in box.iterkeys()]
    finally:
        box.close()
