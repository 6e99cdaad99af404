"""The reference bench/search.py measures Whoosh against: SQLite FTS5 over mailvault's own tokens.

Each text field is stored as its `analyze()` tokens joined by spaces, in a contentless FTS5 table
whose `unicode61` tokenizer (diacritics kept) splits exactly at those spaces, so both engines
index the same terms: CJK bigrams, stemmed words. FTS5 numbers positions one by one, so the extra
one-character token analyze() puts at the end of each CJK run (same position as the run's last
bigram) is moved to the end of its field: phrases never contain one, and a one-character query
is a prefix search that needs no position. Filters are SQL on tables beside the FTS table.
"""

from __future__ import annotations

import sqlite3
import time
from calendar import timegm
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mailvault.index import query as q
from mailvault.index.analysis import phrase_terms, query_parts
from mailvault.index.document import IndexDocument, domain_and_parents
from mailvault.index.engine import Sort
from mailvault.index.fields import TEXT_FIELDS, field_tokens, text_values

# The text fields of mailvault.index.whoosh_engine, with its boost of the subject.
COLUMNS = TEXT_FIELDS
WEIGHTS = (2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
ROLES = ("from", "to", "cc", "bcc")
RECIPIENTS = ("to", "cc", "bcc")
TOKENIZER = "unicode61 remove_diacritics 0"

_SCHEMA = f"""
CREATE TABLE docs (
    archive_id INTEGER PRIMARY KEY,
    date INTEGER NOT NULL,          -- UTC seconds
    size INTEGER NOT NULL,
    has_attachment INTEGER NOT NULL,
    direction TEXT NOT NULL
);
CREATE INDEX docs_date ON docs (date);
-- from/to/cc/bcc addresses with their domains, owner, domain: one row per (role, value, message)
CREATE TABLE addr (
    role TEXT NOT NULL,
    value TEXT NOT NULL,
    archive_id INTEGER NOT NULL,
    PRIMARY KEY (role, value, archive_id)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE fts USING fts5({", ".join(COLUMNS)}, content='', tokenize='{TOKENIZER}');
CREATE VIRTUAL TABLE fts_vocab USING fts5vocab(fts, 'row');
"""


def token_text(texts: list[str], positions: list[int]) -> tuple[str, int]:
    """A field's index tokens space-joined, and how many tokens that is."""
    sequence: list[str] = []
    tail: list[str] = []
    last = -1
    for text, position in zip(texts, positions, strict=True):
        if position == last:
            tail.append(text)  # a CJK run's last character: see the module docstring
        else:
            sequence.append(text)
            last = position
    sequence += tail
    return " ".join(sequence), len(sequence)


def utc_seconds(moment: datetime) -> int:
    """Naive datetimes are UTC in mailvault."""
    return timegm(moment.utctimetuple())


@dataclass
class WriteTimes:
    analysis: float = 0.0  # seconds turning documents into rows (analysis, unless prepared ahead)
    insert: float = 0.0  # seconds in SQLite: inserts and the durable commit
    text_bytes: int = 0  # UTF-8 bytes of the text fields analysed
    tokens: int = 0  # token instances inserted


class Fts5Index:
    """One SQLite file; commits are durable (WAL, synchronous=FULL) like WhooshEngine.write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fresh = not path.exists()
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        if fresh:
            self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def write(self, documents: Sequence[IndexDocument], times: WriteTimes) -> None:
        started = time.perf_counter()
        doc_rows, addr_rows, fts_rows = [], [], []
        for doc in documents:
            tokens, texts = field_tokens(doc), text_values(doc)
            columns: list[str] = []
            for column in COLUMNS:
                joined, count = token_text(*tokens[column])
                columns.append(joined)
                times.tokens += count
                times.text_bytes += len(texts[column].encode("utf-8", "surrogatepass"))
            fts_rows.append((doc.archive_id, *columns))
            doc_rows.append(
                (doc.archive_id, utc_seconds(doc.date), doc.size, int(doc.has_attachment), doc.direction)
            )
            values: set[tuple[str, str]] = set()
            for role in ROLES:
                for address in doc.addresses.get(role, set()):
                    values.add((role, address.lower()))
                    values.update((role, d) for d in domain_and_parents(address.rpartition("@")[2]))
            values.update(("owner", owner.lower()) for owner in doc.owners)
            values.update(("domain", domain) for domain in doc.domains())
            addr_rows += [(role, value, doc.archive_id) for role, value in values]
        analysed = time.perf_counter()
        times.analysis += analysed - started
        placeholders = ", ".join("?" * len(COLUMNS))
        self.conn.execute("BEGIN")
        try:
            self.conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?)", doc_rows)
            self.conn.executemany("INSERT OR IGNORE INTO addr VALUES (?, ?, ?)", addr_rows)
            self.conn.executemany(
                f"INSERT INTO fts (rowid, {', '.join(COLUMNS)}) VALUES (?, {placeholders})",  # noqa: S608
                fts_rows,
            )
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        times.insert += time.perf_counter() - analysed

    def optimize(self) -> None:
        self.conn.execute("INSERT INTO fts (fts) VALUES ('optimize')")
        self.checkpoint()

    def checkpoint(self) -> None:
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def used_size(self) -> int:
        """Bytes of the database's pages in use: free pages (left by a merge) not counted."""
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        free = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def token_count(self) -> int:
        """Token instances in the index, as FTS5 tokenized them."""
        row = self.conn.execute("SELECT coalesce(sum(cnt), 0) FROM fts_vocab").fetchone()
        return int(row[0])

    def sizes(self) -> dict[str, int]:
        """Bytes of the FTS5 index (shadow tables) and of the filter tables, from dbstat."""
        sizes = {"fts": 0, "filters": 0}
        try:
            rows = self.conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.OperationalError:  # SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
            return sizes
        for name, size in rows:
            sizes["fts" if name.startswith("fts_") else "filters"] += int(size)
        return sizes

    def prepare_reads(self) -> None:
        # Whoosh reads its segments through mmap; let SQLite do the same.
        self.conn.execute("PRAGMA mmap_size=4294967296")

    def search(self, tree: q.Node, sort: Sort, limit: int) -> tuple[int, list[int]]:
        """(matches in all, archive ids of the first page): the figures WhooshEngine.search gives."""
        sql, params = translate(tree, sort, limit)
        rows = self.conn.execute(sql, params).fetchall()
        return (int(rows[0][1]) if rows else 0), [int(row[0]) for row in rows]


# -- query translation -------------------------------------------------------------------
# SQL is put together from this module's constant fragments; every value the user typed is a
# bound parameter (hence the S608 exemptions below).
# The same meaning as mailvault.index.whoosh_engine.translate: text through query_parts and
# phrase_terms, every text field unless one is named, addresses as whole values or prefixes.


def translate(tree: q.Node, sort: Sort, limit: int) -> tuple[str, list[object]]:
    """SQL for the first page: the text at the top level becomes one FTS5 MATCH, the rest WHERE."""
    match, rest = _split_top(tree)
    page = f"LIMIT {int(limit)}"
    if match is None:
        where, params = _sql(tree)
        sql = f"SELECT d.archive_id, count(*) OVER () FROM docs d WHERE {where} ORDER BY d.date DESC {page}"  # noqa: S608
        return sql, params
    where, params = _sql_all(rest)
    score = f"bm25(fts, {', '.join(map(str, WEIGHTS))})" if sort is Sort.RELEVANCE else "0"
    order = "score" if sort is Sort.RELEVANCE else "date DESC"
    # FTS5 first (CROSS JOIN), as Whoosh does: every match collected, then sorted. bm25() cannot
    # be called once the window function has buffered the rows, so the matches are materialized.
    sql = (
        "WITH m AS MATERIALIZED ("  # noqa: S608
        f"SELECT d.archive_id, d.date, {score} AS score FROM fts CROSS JOIN docs d "
        f"ON d.archive_id = fts.rowid WHERE fts MATCH ? AND {where}) "
        f"SELECT archive_id, count(*) OVER () FROM m ORDER BY {order} {page}"
    )
    return sql, [match, *params]


def _split_top(tree: q.Node) -> tuple[str | None, list[q.Node]]:
    """The FTS5 expression for the top level's text parts (None if there are none), and the rest."""
    whole = _match(tree)
    if whole is not None:
        return whole, []
    if not isinstance(tree, q.And):
        return None, [tree]
    positive, negative, rest = [], [], []
    for part in tree.parts:
        if isinstance(part, q.Not) and (expr := _match(part.part)) is not None:
            negative.append(expr)
        elif (expr := _match(part)) is not None:
            positive.append(expr)
        else:
            rest.append(part)
    if not positive:
        return None, [tree]
    expr = " AND ".join(f"({e})" for e in positive)
    return "".join([f"({expr})", *(f" NOT ({e})" for e in negative)]), rest


def _match(node: q.Node) -> str | None:
    """An FTS5 expression for a subtree of text only; None when it needs SQL."""
    if isinstance(node, q.Text):
        if node.field is None and _looks_like_address(node.value):
            return None
        return _text(node.value, (node.field,) if node.field else ())
    if isinstance(node, q.Or):
        parts = [_match(p) for p in node.parts]
        if any(p is None for p in parts):
            return None
        return " OR ".join(f"({p})" for p in parts)
    if isinstance(node, q.And):
        positive, negative = [], []
        for part in node.parts:
            if isinstance(part, q.Not):
                negative.append(_match(part.part))
            else:
                positive.append(_match(part))
        if not positive or any(p is None for p in [*positive, *negative]):
            return None
        expr = " AND ".join(f"({p})" for p in positive)
        return "".join([f"({expr})", *(f" NOT ({n})" for n in negative)])
    return None


def _text(value: str, columns: Sequence[str]) -> str | None:
    """`value` in the given columns (all of them if none); None if it has no terms (matches nothing)."""
    parts = query_parts(value)
    if not parts:
        return None
    terms = phrase_terms(parts)
    if terms is not None:
        prefix = len(terms) == 1 and parts[0].prefix
        expr = f'"{terms[0]}"*' if prefix else '"' + " ".join(terms) + '"'
        return f"{{{' '.join(columns)}}} : ({expr})" if columns else expr
    # Prefix parts cannot be in a phrase: each part on its own, all in the same column.
    each = " AND ".join(f'"{p.terms[0]}"*' if p.prefix else '"' + " ".join(p.terms) + '"' for p in parts)
    return " OR ".join(f"({{{c}}} : ({each}))" for c in (columns or COLUMNS))


def _sql_all(nodes: list[q.Node]) -> tuple[str, list[object]]:
    if not nodes:
        return "1", []
    return _sql(q.And(tuple(nodes)) if len(nodes) > 1 else nodes[0])


def _in_fts(expr: str | None) -> tuple[str, list[object]]:
    if expr is None:
        return "0", []
    return "d.archive_id IN (SELECT rowid FROM fts WHERE fts MATCH ?)", [expr]


def _sql(node: q.Node) -> tuple[str, list[object]]:
    """A WHERE condition on `docs d`."""
    expr = _match(node)
    if expr is not None:
        return _in_fts(expr)
    if isinstance(node, q.Everything):
        return "1", []
    if isinstance(node, q.And | q.Or):
        joined = [_sql(p) for p in node.parts]
        glue = " AND " if isinstance(node, q.And) else " OR "
        return "(" + glue.join(s for s, _ in joined) + ")", [p for _, ps in joined for p in ps]
    if isinstance(node, q.Not):
        inner, params = _sql(node.part)
        return f"NOT ({inner})", params
    if isinstance(node, q.Text):  # an address-looking word: the text, or an address in any role
        if not (node.field is None and _looks_like_address(node.value)):
            return "0", []  # no terms at all: Whoosh's NullQuery
        text = _in_fts(_text(node.value, (node.field,) if node.field else ()))
        address = _address_term(ROLES, node.value.lower())
        return f"({text[0]} OR {address[0]})", [*text[1], *address[1]]
    if isinstance(node, q.Address):
        return _address(node.role, node.value)
    if isinstance(node, q.Keyword):
        if node.field == "direction":
            return "d.direction = ?", [node.value]
        return "d.archive_id IN (SELECT archive_id FROM addr WHERE role = ? AND value = ?)", [
            node.field,
            node.value,
        ]
    if isinstance(node, q.HasAttachment):
        return "d.has_attachment = 1", []
    if isinstance(node, q.DateRange):
        conditions, params = [], []
        if node.start is not None:
            conditions.append("d.date >= ?")
            params.append(utc_seconds(node.start))
        if node.end is not None:
            conditions.append("d.date < ?")
            params.append(utc_seconds(node.end))
        return "(" + (" AND ".join(conditions) or "1") + ")", params
    if isinstance(node, q.SizeRange):
        conditions, params = [], []
        if node.minimum is not None:
            conditions.append("d.size > ?")
            params.append(node.minimum)
        if node.maximum is not None:
            conditions.append("d.size < ?")
            params.append(node.maximum)
        return "(" + (" AND ".join(conditions) or "1") + ")", params
    raise TypeError(f"no translation for {node!r}")


def _looks_like_address(value: str) -> bool:
    return "@" in value or ("." in value and " " not in value and not value.endswith("."))


def _address(role: str, value: str) -> tuple[str, list[object]]:
    if role == "owner":
        return _address_term(("owner",), value)
    roles = RECIPIENTS if role == "to" else (role,)
    sql, params = _address_term(roles, value)
    if "@" not in value and "." not in value:  # a display name: from:张伟
        names = _in_fts(_text(value, [f"{r}_names" for r in roles]))
        return f"({sql} OR {names[0]})", [*params, *names[1]]
    return sql, params


def _address_term(roles: Sequence[str], value: str) -> tuple[str, list[object]]:
    """Whole addresses and domains exactly, `zhang.wei@` and `zhang` as prefixes."""
    where = f"role IN ({', '.join('?' * len(roles))})"
    exact = value.startswith("@") or ("@" in value and not value.endswith("@"))
    if value.startswith("@"):
        value = value[1:]
    if exact or ("." in value and "@" not in value):
        condition, params = "value = ?", [value]
    else:
        condition, params = "value >= ? AND value < ?", [value, value + "\U0010ffff"]
    subquery = f"SELECT archive_id FROM addr WHERE {where} AND {condition}"  # noqa: S608
    return f"d.archive_id IN ({subquery})", [*roles, *params]
