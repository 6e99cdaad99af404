"""The interface every search engine implements; callers never import an engine's library."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from mailvault.index.document import IndexDocument
from mailvault.index.query import Node


class Sort(StrEnum):
    DATE = "date"  # newest first
    RELEVANCE = "relevance"


@dataclass(frozen=True, slots=True)
class Hit:
    archive_id: int
    date: datetime
    score: float | None


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int  # matches in all, not only on this page
    hits: list[Hit]


class Engine(Protocol):
    name: str
    takes_tokens: bool  # indexes IndexDocument.tokens when a preparer filled them in ahead

    def write(self, documents: Sequence[IndexDocument]) -> None:
        """Add or replace these documents and commit; durable on disk when this returns."""

    def delete(self, archive_ids: Sequence[int]) -> None:
        """Remove these messages' documents (the retention purge) and commit; durable when it returns.
        Ids not in the index are ignored. The terms stay in their segments until optimize()."""

    def search(self, query: Node, *, sort: Sort, offset: int, limit: int) -> SearchPage: ...

    def document_count(self) -> int: ...

    def refresh(self) -> None:
        """See what other processes committed since this engine was opened (a long-lived reader)."""

    def contains(self, archive_ids: Sequence[int]) -> set[int]:
        """Which of these messages are in the index."""

    def optimize(self) -> None:
        """Merge segments (slow on a large index; the indexer does it when idle)."""

    def close(self) -> None: ...
