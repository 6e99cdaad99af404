"""A search as callers see it: the query language in, archive records with snippets out.

The engine only returns ids; what is shown (sender, subject, the snippet and its highlights)
comes from the archive, so the index stores nothing large.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select

from mailvault.archive.models import Message
from mailvault.archive.store import Archive
from mailvault.index.analysis import fold, query_parts
from mailvault.index.engine import Engine, SearchPage, Sort
from mailvault.index.query import Node, parse, positive_texts
from mailvault.mime import parse_message

SNIPPET_CONTEXT = 70  # characters shown before and after the first match


@dataclass(frozen=True, slots=True)
class Snippet:
    text: str
    highlights: list[tuple[int, int]]  # [start, end) character spans of `text`


@dataclass(slots=True)
class Result:
    archive_id: int
    date: datetime | None
    sender: str
    subject: str
    size: int
    direction: str
    attachments: int
    score: float | None
    snippet: Snippet = field(default_factory=lambda: Snippet("", []))

    def as_dict(self) -> dict[str, object]:
        return {
            "archive_id": self.archive_id,
            "date": self.date.isoformat() if self.date else None,
            "from": self.sender,
            "subject": self.subject,
            "size": self.size,
            "direction": self.direction,
            "attachments": self.attachments,
            "score": self.score,
            "snippet": self.snippet.text,
            "highlights": [list(span) for span in self.snippet.highlights],
        }


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: str
    sort: Sort
    total: int
    offset: int
    results: list[Result]

    def as_dict(self) -> dict[str, object]:
        return {
            "query": self.query,
            "sort": str(self.sort),
            "total": self.total,
            "offset": self.offset,
            "results": [r.as_dict() for r in self.results],
        }


def search(
    archive: Archive,
    engine: Engine,
    query: str,
    *,
    sort: Sort = Sort.DATE,
    offset: int = 0,
    limit: int = 20,
    restrict: Callable[[Node], Node | None] | None = None,
) -> SearchResults:
    """Run `query` (QueryError if it is not understood) and describe one page of results.
    `restrict` narrows the parsed query to what the reader may see (None: nothing at all)."""
    tree = parse(query)
    searched: Node | None = restrict(tree) if restrict is not None else tree
    if searched is None:
        return SearchResults(query, sort, 0, offset, [])
    page: SearchPage = engine.search(searched, sort=sort, offset=offset, limit=limit)
    ids = [hit.archive_id for hit in page.hits]
    with archive.db.reading() as session:
        rows = {m.archive_id: m for m in session.scalars(select(Message).where(Message.archive_id.in_(ids)))}
    needles = highlight_needles(positive_texts(tree))
    results = []
    for hit in page.hits:
        message = rows.get(hit.archive_id)
        if message is None:
            continue  # only after a retention purge the index has not caught up with
        result = Result(
            hit.archive_id,
            message.date,
            f"{message.sender_name} <{message.sender_addr}>" if message.sender_name else message.sender_addr,
            message.subject,
            message.size,
            message.direction,
            message.attachment_count,
            hit.score,
        )
        if needles:
            text = parse_message(archive.blobs.get(message.sha256)).text
            result.snippet = snippet(text, needles) or snippet(message.subject, needles) or Snippet("", [])
        results.append(result)
    return SearchResults(query, sort, page.total, offset, results)


def highlight_needles(texts: list[str]) -> list[str]:
    """Folded strings to mark: Chinese runs as typed, other words by their stem (a prefix)."""
    needles: list[str] = []
    for text in texts:
        for part in query_parts(text):
            needle = (
                part.terms[0]
                if len(part.terms) == 1
                else part.terms[0] + "".join(t[-1] for t in part.terms[1:])
            )
            if needle and needle not in needles:
                needles.append(needle)
    return needles


@lru_cache(maxsize=65536)
def _fold_char(char: str) -> str:
    return fold(char) if not char.isascii() else char.lower()


def snippet(text: str, needles: list[str]) -> Snippet | None:
    """The stretch of `text` around the first match, with every match in it marked."""
    folded_chars = [_fold_char(c) for c in text]
    folded = "".join(folded_chars)
    # folded position -> original position (folding may turn one character into several)
    origin = [i for i, chunk in enumerate(folded_chars) for _ in chunk]
    spans: list[tuple[int, int]] = []
    for needle in needles:
        start = folded.find(needle)
        while start != -1:
            end = start + len(needle)
            spans.append((origin[start], origin[end - 1] + 1))
            start = folded.find(needle, end)
    if not spans:
        return None
    spans.sort()
    first = spans[0][0]
    begin = max(0, first - SNIPPET_CONTEXT)
    stop = min(len(text), spans[0][1] + SNIPPET_CONTEXT)
    prefix = "…" if begin > 0 else ""
    suffix = "…" if stop < len(text) else ""
    shown = _one_line(text[begin:stop])
    marks = [(s - begin + len(prefix), e - begin + len(prefix)) for s, e in spans if s >= begin and e <= stop]
    return Snippet(prefix + shown + suffix, _merge(marks))


def _one_line(text: str) -> str:
    """Line breaks and tabs become spaces one for one, so highlight offsets stay valid."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
