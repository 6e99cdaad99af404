"""The tantivy engine (PyPI `tantivy`, Rust): for archives past what Whoosh answers in time.

It is given mailvault's own tokens (analysis.analyze, positions included) as pre-tokenized text,
so both engines find exactly the same messages for the same query. tantivy allows one writer per
index, merges segments in background threads, and its commit is durable when it returns (it
fsyncs the segment files and its meta.json).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailvault.errors import ConfigError, SearchIndexError
from mailvault.index import query as q
from mailvault.index.analysis import QueryPart, phrase_terms, query_parts
from mailvault.index.document import IndexDocument
from mailvault.index.engine import Hit, SearchPage, Sort
from mailvault.index.fields import ADDRESS_FIELDS, TEXT_FIELDS, address_values, field_tokens

try:
    import tantivy
except ImportError:  # an optional engine: pip install 'mailvault[tantivy]'
    tantivy = None  # type: ignore[assignment]

_KEYWORD_FIELDS = ("direction", "domain", "owner", "source", *ADDRESS_FIELDS)
_WRITER_HEAP = 64 * 1024 * 1024


def _schema() -> Any:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=True, fast=True)
    builder.add_date_field("date", stored=True, indexed=True, fast=True)
    builder.add_integer_field("size", indexed=True, fast=True)
    builder.add_boolean_field("has_attachment", indexed=True)
    builder.add_integer_field("thread", indexed=True)
    for name in _KEYWORD_FIELDS:
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    for name in TEXT_FIELDS:
        builder.add_text_field(name, tokenizer_name="raw", index_option="position")
    return builder.build()


class TantivyEngine:
    name = "tantivy"
    takes_tokens = True

    def __init__(self, directory: Path) -> None:
        if tantivy is None:
            raise ConfigError(
                "[index] engine = tantivy needs the tantivy package: pip install 'mailvault[tantivy]'"
            )
        self.directory = directory
        try:
            directory.mkdir(mode=0o750, parents=True, exist_ok=True)
            self._schema = _schema()
            self._index = tantivy.Index(self._schema, path=str(directory), reuse=True)
            self._index.reload()
        except (ValueError, OSError) as exc:
            raise SearchIndexError(
                f"cannot open the search index in {directory} ({exc}); `mailvault reindex` rebuilds it"
            ) from exc
        self._writer: Any = None

    def write(self, documents: Sequence[IndexDocument]) -> None:
        if not documents:
            return
        if self._writer is None:
            self._writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        for doc in documents:
            self._writer.delete_documents_by_term("id", doc.archive_id)
            self._writer.add_document(self._document(doc))
        self._writer.commit()
        self._index.reload()

    def delete(self, archive_ids: Sequence[int]) -> None:
        if not archive_ids:
            return
        if self._writer is None:
            self._writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        for archive_id in archive_ids:
            self._writer.delete_documents_by_term("id", archive_id)
        self._writer.commit()
        self._index.reload()

    def _document(self, doc: IndexDocument) -> Any:
        out = tantivy.Document()
        out.add_integer("id", doc.archive_id)
        out.add_date("date", doc.date.replace(tzinfo=UTC))
        out.add_integer("size", doc.size)
        out.add_boolean("has_attachment", doc.has_attachment)
        if doc.thread_id is not None:
            out.add_integer("thread", doc.thread_id)
        for field, values in address_values(doc).items():
            for value in values:
                out.add_text(field, value)
        for field, (texts, positions) in field_tokens(doc).items():
            tokens = [
                tantivy.Token(text, position, 0, 0) for text, position in zip(texts, positions, strict=True)
            ]
            if tokens:
                out.add_pre_tokenized_text(field, tantivy.PreTokenizedString("", tokens))
        return out

    def optimize(self) -> None:
        if self._writer is not None:
            self._writer.wait_merging_threads()  # tantivy merges in the background by itself
            self._writer = None

    def refresh(self) -> None:
        self._index.reload()

    def search(self, query: q.Node, *, sort: Sort, offset: int, limit: int) -> SearchPage:
        searcher = self._index.searcher()
        translated = self._translate(query)
        if sort is Sort.DATE:
            result = searcher.search(
                translated, limit, count=True, order_by_field="date", offset=offset, order=tantivy.Order.Desc
            )
        else:
            result = searcher.search(translated, limit, count=True, offset=offset)
        hits = []
        for score, address in result.hits:
            stored = searcher.doc(address)
            date, archive_id = stored.get_first("date"), stored.get_first("id")
            if not isinstance(date, datetime) or not isinstance(archive_id, int):
                raise SearchIndexError(f"the index in {self.directory} holds a document without id or date")
            when = date.astimezone(UTC).replace(tzinfo=None) if date.tzinfo else date
            hits.append(Hit(archive_id, when, None if sort is Sort.DATE else float(score)))
        return SearchPage(int(getattr(result, "count", 0) or 0), hits)

    def document_count(self) -> int:
        return int(self._index.searcher().num_docs)

    def contains(self, archive_ids: Sequence[int]) -> set[int]:
        searcher = self._index.searcher()
        found = set()
        for archive_id in archive_ids:
            query = tantivy.Query.term_query(self._schema, "id", archive_id)
            if getattr(searcher.search(query, 1, count=True), "count", 0):
                found.add(archive_id)
        return found

    def close(self) -> None:
        if self._writer is not None:
            self._writer.wait_merging_threads()
            self._writer = None

    # -- query translation ---------------------------------------------------------------

    def _translate(self, node: q.Node) -> Any:
        query = tantivy.Query
        occur = tantivy.Occur
        if isinstance(node, q.Everything):
            return query.all_query()
        if isinstance(node, q.And):
            return query.boolean_query([(occur.Must, self._translate(p)) for p in node.parts])
        if isinstance(node, q.Or):
            return query.boolean_query([(occur.Should, self._translate(p)) for p in node.parts])
        if isinstance(node, q.Not):
            return query.boolean_query(
                [(occur.Must, query.all_query()), (occur.MustNot, self._translate(node.part))]
            )
        if isinstance(node, q.Text):
            fields = (node.field,) if node.field else TEXT_FIELDS
            text = self._text(node.value, fields)
            if node.field is None and q.looks_like_address(node.value):
                return self._any([text, self._address_any(node.value.lower())])
            return text
        if isinstance(node, q.Address):
            return self._address(node.role, node.value)
        if isinstance(node, q.Keyword):
            return query.term_query(self._schema, node.field, node.value, index_option="basic")
        if isinstance(node, q.HasAttachment):
            return query.term_query(self._schema, "has_attachment", True)
        if isinstance(node, q.DateRange):
            return query.range_query(
                self._schema,
                "date",
                tantivy.FieldType.Date,
                node.start.replace(tzinfo=UTC) if node.start else None,
                node.end.replace(tzinfo=UTC) if node.end else None,
                include_lower=True,
                include_upper=node.end is None,
            )
        if isinstance(node, q.SizeRange):
            return query.range_query(
                self._schema,
                "size",
                tantivy.FieldType.Integer,
                node.minimum,
                node.maximum,
                include_lower=node.minimum is None,
                include_upper=node.maximum is None,
            )
        raise TypeError(f"no translation for {node!r}")

    def _any(self, queries: list[Any]) -> Any:
        if len(queries) == 1:
            return queries[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, each) for each in queries])

    def _text(self, value: str, fields: Sequence[str]) -> Any:
        parts = query_parts(value)
        if not parts:
            return tantivy.Query.empty_query()
        return self._any([self._in_field(field, parts) for field in fields])

    def _in_field(self, field: str, parts: list[QueryPart]) -> Any:
        terms = phrase_terms(parts)
        if terms is not None:
            if len(terms) == 1:
                if parts[0].prefix:
                    return tantivy.Query.regex_query(self._schema, field, _regex_escape(terms[0]) + ".*")
                return tantivy.Query.term_query(self._schema, field, terms[0])
            words: list[str | tuple[int, str]] = list(terms)
            return tantivy.Query.phrase_query(self._schema, field, words)
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, self._in_field(field, [part])) for part in parts]
        )

    def _address_any(self, value: str) -> Any:
        return self._any([self._address_term(field, value) for field in ADDRESS_FIELDS])

    def _address(self, role: str, value: str) -> Any:
        if role == "owner":
            return self._address_term("owner", value)
        roles = q.RECIPIENT_ROLES if role == "to" else (role,)
        matches = [self._address_term(f"{r}_addr", value) for r in roles]
        if "@" not in value and "." not in value:
            matches += [self._text(value, [f"{r}_names"]) for r in roles]
        return self._any(matches)

    def _address_term(self, field: str, value: str) -> Any:
        exact = q.address_exact(value)
        if exact is not None:
            return tantivy.Query.term_query(self._schema, field, exact, index_option="basic")
        return tantivy.Query.regex_query(self._schema, field, _regex_escape(value) + ".*")


_RUST_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$#&\-~])")


def _regex_escape(text: str) -> str:
    return _RUST_REGEX_META.sub(r"\\\1", text)
