"""The Whoosh engine (whoosh3): the only module that imports whoosh.

Whoosh allows one writer per index (a lock file); mailvault's indexer is that writer. Commits
never merge (a merge inside a commit can hold the lock for minutes on a large index); the
indexer merges when it is idle (optimize). Whoosh does not fsync, so write() does: every new
file of the commit and the folder, before it returns.
"""

# whoosh3 is typed, but a few of its methods are not annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.analysis.acore import Token
from whoosh.analysis.tokenizers import Tokenizer
from whoosh.fields import BOOLEAN, DATETIME, ID, KEYWORD, NUMERIC, TEXT, Schema
from whoosh.index import Index
from whoosh.query.compound import And, Or
from whoosh.query.positional import Phrase
from whoosh.query.qcore import Every, NullQuery, Query
from whoosh.query.ranges import DateRange, NumericRange
from whoosh.query.terms import Prefix, Term
from whoosh.query.wrappers import Not
from whoosh.scoring import BM25F
from whoosh.searching import Searcher
from whoosh.writing import CLEAR, MERGE_SMALL

from mailvault.durable import fsync_dir
from mailvault.errors import SearchIndexError
from mailvault.index import query as q
from mailvault.index.analysis import QueryPart, analyze, phrase_terms, query_parts
from mailvault.index.document import IndexDocument
from mailvault.index.engine import Hit, SearchPage, Sort
from mailvault.index.fields import ADDRESS_FIELDS, TEXT_FIELDS, address_values, text_values


class MailTokenizer(Tokenizer):
    """Whoosh's side of analysis.analyze: the same tokens and positions for every engine."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for item in analyze(value):
            token.text = item.text
            token.boost = 1.0
            if positions:
                token.pos = start_pos + item.position
            yield token


def schema() -> Schema:
    text = {name: TEXT(analyzer=MailTokenizer(), phrase=True) for name in TEXT_FIELDS}
    text["subject"] = TEXT(analyzer=MailTokenizer(), phrase=True, field_boost=2.0)
    keywords = {name: KEYWORD(lowercase=True) for name in ADDRESS_FIELDS}
    return Schema(
        id=ID(stored=True, unique=True),
        date=DATETIME(stored=True, sortable=True),
        size=NUMERIC(int, bits=64, sortable=True),
        has_attachment=BOOLEAN,
        direction=ID,
        domain=KEYWORD(lowercase=True),
        owner=KEYWORD(lowercase=True),
        source=KEYWORD,
        thread=NUMERIC(int, bits=64, stored=True),
        **text,
        **keywords,
    )


def _fields(doc: IndexDocument) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": str(doc.archive_id),
        "date": doc.date,
        "size": doc.size,
        "has_attachment": doc.has_attachment,
        **text_values(doc),
    }
    for name, values in address_values(doc).items():
        fields[name] = " ".join(values)
    if doc.thread_id is not None:
        fields["thread"] = doc.thread_id
    return fields


SMALL_MERGE_AFTER = 8  # commits


class WhooshEngine:
    name = "whoosh"
    takes_tokens = False

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        problem = None
        # Whoosh leaves files open when it fails on a damaged segment; they are closed (quietly)
        # before this returns.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                directory.mkdir(mode=0o750, parents=True, exist_ok=True)
                if whoosh_index.exists_in(str(directory)):
                    self._index: Index = whoosh_index.open_dir(str(directory))
                    with self._index.reader() as reader:  # opens every segment's files: finds damage now
                        reader.doc_count()
                else:
                    self._index = whoosh_index.create_in(str(directory), schema())
                    self._sync()
            except Exception as exc:  # whoosh reports damage as any of a dozen exception types
                problem = f"{type(exc).__name__}: {exc}"
            if problem is not None:
                gc.collect()
        if problem is not None:
            raise SearchIndexError(
                f"cannot open the search index in {directory} ({problem}); `mailvault reindex` rebuilds it"
            )
        self._searcher: Searcher | None = None
        self._unmerged_commits = 0
        self._synced: set[str] = set(os.listdir(directory))

    # -- writing -------------------------------------------------------------------------

    def write(self, documents: Sequence[IndexDocument]) -> None:
        if not documents:
            return
        writer = self._index.writer()
        try:
            for doc in documents:
                writer.update_document(**_fields(doc))
        except BaseException:
            writer.cancel()
            raise
        # Merging only small segments keeps a commit short; without it segments pile up under a
        # steady flow of mail and every search reads them all. Big merges wait for optimize().
        self._unmerged_commits += 1
        if self._unmerged_commits >= SMALL_MERGE_AFTER:
            writer.commit(mergetype=MERGE_SMALL)
            self._unmerged_commits = 0
        else:
            writer.commit(merge=False)
        self._sync()

    def delete(self, archive_ids: Sequence[int]) -> None:
        if not archive_ids:
            return
        writer = self._index.writer()
        try:
            for archive_id in archive_ids:
                writer.delete_by_term("id", str(archive_id))
        except BaseException:
            writer.cancel()
            raise
        writer.commit(merge=False)
        self._sync()

    def clear(self) -> None:
        writer = self._index.writer()
        writer.commit(mergetype=CLEAR)
        self._sync()

    def optimize(self) -> None:
        self._index.optimize()
        self._sync()

    def _sync(self) -> None:
        """Whoosh writes but never fsyncs: make the commit durable before anyone relies on it."""
        names = set(os.listdir(self.directory))
        for name in sorted(names - getattr(self, "_synced", set())):
            if name.endswith(".lock"):
                continue
            fd = os.open(self.directory / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(self.directory)
        self._synced = names

    # -- reading -------------------------------------------------------------------------

    def _reader(self) -> Searcher:
        # A new searcher only when the index changed (Searcher.refresh fails on an empty index).
        if self._searcher is None or not self._searcher.up_to_date():
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = self._index.searcher(weighting=BM25F())
        return self._searcher

    def refresh(self) -> None:
        """Nothing to do: each search checks whether the index changed (_reader)."""

    def search(self, query: q.Node, *, sort: Sort, offset: int, limit: int) -> SearchPage:
        searcher = self._reader()
        translated = translate(query)
        if sort is Sort.DATE:
            results = searcher.search(translated, limit=offset + limit, sortedby="date", reverse=True)
        else:
            results = searcher.search(translated, limit=offset + limit)
        hits = [
            Hit(int(hit["id"]), hit["date"], None if sort is Sort.DATE else float(hit.score or 0.0))
            for hit in results[offset : offset + limit]
        ]
        return SearchPage(len(results), hits)

    def document_count(self) -> int:
        return int(self._reader().doc_count())

    def contains(self, archive_ids: Sequence[int]) -> set[int]:
        searcher = self._reader()
        return {i for i in archive_ids if searcher.document_number(id=str(i)) is not None}

    def newest_date(self) -> datetime | None:
        page = self.search(q.Everything(), sort=Sort.DATE, offset=0, limit=1)
        return page.hits[0].date if page.hits else None

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self._index.close()


# -- query translation -------------------------------------------------------------------


def translate(node: q.Node) -> Query:
    if isinstance(node, q.Everything):
        return Every()
    if isinstance(node, q.And):
        return And([translate(p) for p in node.parts])
    if isinstance(node, q.Or):
        return Or([translate(p) for p in node.parts])
    if isinstance(node, q.Not):
        # A pure negation means "everything except": Whoosh needs the everything spelled out.
        return And([Every(), Not(translate(node.part))])
    if isinstance(node, q.Text):
        fields = (node.field,) if node.field else TEXT_FIELDS
        if node.field is None and q.looks_like_address(node.value):
            return Or([_text(node.value, fields), _address_any(node.value.lower())])
        return _text(node.value, fields)
    if isinstance(node, q.Address):
        return _address(node.role, node.value)
    if isinstance(node, q.Keyword):
        return Term(node.field, node.value)
    if isinstance(node, q.HasAttachment):
        return Term("has_attachment", True)
    if isinstance(node, q.DateRange):
        return DateRange("date", node.start, node.end, endexcl=True)
    if isinstance(node, q.SizeRange):
        return NumericRange("size", node.minimum, node.maximum, startexcl=True, endexcl=True)
    raise TypeError(f"no translation for {node!r}")


def _text(value: str, fields: Sequence[str]) -> Query:
    parts = query_parts(value)
    if not parts:
        return NullQuery
    per_field = [_in_field(field, parts) for field in fields]
    return per_field[0] if len(per_field) == 1 else Or(per_field)


def _in_field(field: str, parts: list[QueryPart]) -> Query:
    terms = phrase_terms(parts)
    if terms is not None:
        if len(terms) == 1:
            part = parts[0]
            return Prefix(field, terms[0]) if part.prefix else Term(field, terms[0])
        return Phrase(field, terms)
    return And([_in_field(field, [part]) for part in parts])


def _address_any(value: str) -> Query:
    return Or([_address_term(field, value) for field in ADDRESS_FIELDS])


def _address(role: str, value: str) -> Query:
    if role == "owner":
        return _address_term("owner", value)
    roles = q.RECIPIENT_ROLES if role == "to" else (role,)
    matches = [_address_term(f"{r}_addr", value) for r in roles]
    if "@" not in value and "." not in value:
        matches += [_text(value, [f"{r}_names"]) for r in roles]  # a display name: from:张伟
    return matches[0] if len(matches) == 1 else Or(matches)


def _address_term(field: str, value: str) -> Query:
    exact = q.address_exact(value)
    return Term(field, exact) if exact is not None else Prefix(field, value)
