"""The query language, the same for the CLI, the web pages and the API.

    深圳华强电子 after:2025-01-01 has:attachment
    "payment terms" (invoice OR 发票) -draft from:zhang.wei@ domain:huawei.com

Words are ANDed; OR, NOT (or a leading -), "phrases" and parentheses combine them. Filters:
from: to: cc: bcc: (addresses, domains or display names; to: means any recipient), domain:,
subject: body: attachment: (text in one part), owner: (the mailbox it came from), direction:,
folder:, after: before: on: (dates, YYYY, YYYY-MM or YYYY-MM-DD, UTC), larger: smaller:
(sizes like 500k, 2M), has:attachment. The parser builds a tree the engines translate; it
knows nothing of any engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailvault.errors import MailvaultError


class QueryError(MailvaultError):
    """A query that cannot be understood; the message says what and where, in one line."""


@dataclass(frozen=True, slots=True)
class Text:
    """Words or a phrase the user typed, in the given field or (None) in every text field."""

    value: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Address:
    """An address, part of one (zhang.wei@), a domain or a display name, in a role."""

    role: str  # from, to (any recipient), cc, bcc, owner, any
    value: str


@dataclass(frozen=True, slots=True)
class Keyword:
    field: str  # direction, domain
    value: str


@dataclass(frozen=True, slots=True)
class DateRange:
    start: datetime | None  # inclusive
    end: datetime | None  # exclusive


@dataclass(frozen=True, slots=True)
class SizeRange:
    minimum: int | None  # exclusive: larger:
    maximum: int | None  # exclusive: smaller:


@dataclass(frozen=True, slots=True)
class HasAttachment:
    pass


@dataclass(frozen=True, slots=True)
class Everything:
    pass


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: Node


Node = Text | Address | Keyword | DateRange | SizeRange | HasAttachment | Everything | And | Or | Not

TEXT_FIELDS = {"subject": "subject", "body": "body", "attachment": "attachments", "folder": "folder"}
ADDRESS_ROLES = ("from", "to", "cc", "bcc", "owner")
DIRECTIONS = ("inbound", "outbound", "internal", "unknown")
FILTERS = (
    *ADDRESS_ROLES,
    *TEXT_FIELDS,
    "domain",
    "direction",
    "after",
    "before",
    "on",
    "larger",
    "smaller",
    "has",
)

_LEX = re.compile(r'\s+|(?P<open>\()|(?P<close>\))|(?P<phrase>"[^"]*"?)|(?P<word>[^\s()"]+(?:"[^"]*"?)?)')
_FILTER = re.compile(r"(?P<name>[A-Za-z]+)[:：](?P<value>.*)", re.S)
_SIZE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[kmg]?)b?", re.I)


def parse(query: str) -> Node:
    """The tree of `query`; an empty query matches everything."""
    tokens = [m for m in _LEX.finditer(query) if m.lastgroup]
    parser = _Parser(query, [(m.lastgroup or "", m.group(m.lastgroup or 0), m.start()) for m in tokens])
    return parser.parse()


class _Parser:
    def __init__(self, query: str, tokens: list[tuple[str, str, int]]) -> None:
        self.query = query
        self.tokens = tokens
        self.at = 0

    def parse(self) -> Node:
        if not self.tokens:
            return Everything()
        node = self._or()
        if self.at < len(self.tokens):
            _, text, offset = self.tokens[self.at]
            raise QueryError(f"unexpected {text!r} at character {offset + 1}: a ')' without its '('?")
        return node

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _or(self) -> Node:
        parts = [self._and()]
        while (token := self._peek()) and token[:2] == ("word", "OR"):
            self.at += 1
            if self._peek() is None:
                raise QueryError("the query ends with OR: OR needs something on both sides")
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def _and(self) -> Node:
        parts: list[Node] = []
        while (token := self._peek()) and token[0] != "close" and token[:2] != ("word", "OR"):
            if token[:2] == ("word", "AND"):
                self.at += 1
                continue
            parts.append(self._unary())
        if not parts:
            token = self._peek()
            where = f"at character {token[2] + 1}" if token else "at the end"
            raise QueryError(f"nothing to search for {where}: write a word between operators and parentheses")
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _unary(self) -> Node:
        kind, text, offset = self.tokens[self.at]
        if kind == "word" and text == "NOT":
            self.at += 1
            if self._peek() is None or self._peek()[0] == "close":  # type: ignore[index]
                raise QueryError(f"NOT at character {offset + 1} is followed by nothing")
            return Not(self._unary())
        if kind == "word" and text.startswith("-") and len(text) > 1:
            self.tokens[self.at] = ("word", text[1:], offset + 1)
            return Not(self._unary())
        return self._primary()

    def _primary(self) -> Node:
        kind, text, offset = self.tokens[self.at]
        self.at += 1
        if kind == "open":
            node = self._or()
            if self._peek() is None or self._peek()[0] != "close":  # type: ignore[index]
                raise QueryError(f"the '(' at character {offset + 1} is never closed")
            self.at += 1
            return node
        if kind == "close":
            raise QueryError(f"unexpected ')' at character {offset + 1}")
        if kind == "phrase":
            return _text(_unquote(text), None, offset)
        return _word(text, offset)


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text.endswith('"') else text[1:]


def _text(value: str, field: str | None, offset: int) -> Node:
    if not value.strip():
        raise QueryError(f"empty phrase at character {offset + 1}")
    return Text(value, field)


def _word(text: str, offset: int) -> Node:
    match = _FILTER.fullmatch(text)
    if match is None:
        return Text(text)
    name, value = (
        match.group("name").lower(),
        _unquote(match.group("value")) if '"' in text else match["value"],
    )
    if name not in FILTERS:
        raise QueryError(
            f"unknown filter {match.group('name')}: at character {offset + 1}; filters are "
            + " ".join(f"{f}:" for f in FILTERS)
            + ' (put text with a colon in "quotes")'
        )
    if not value:
        raise QueryError(f"{name}: at character {offset + 1} needs a value, e.g. {name}:{_EXAMPLES[name]}")
    return _filter(name, value.strip(), offset)


_EXAMPLES = {
    "from": "zhang.wei@huawei.com",
    "to": "huawei.com",
    "cc": "李娜",
    "bcc": "boss@",
    "owner": "zhang.wei@company.cn",
    "subject": "报价",
    "body": '"payment terms"',
    "attachment": "invoice",
    "folder": "INBOX",
    "domain": "huawei.com",
    "direction": "inbound",
    "after": "2025-01-01",
    "before": "2025-07",
    "on": "2025-03-15",
    "larger": "5M",
    "smaller": "100k",
    "has": "attachment",
}


def _filter(name: str, value: str, offset: int) -> Node:
    if name in ADDRESS_ROLES:
        return Address(name, value.lower())
    if name in TEXT_FIELDS:
        return _text(value, TEXT_FIELDS[name], offset)
    if name == "domain":
        return Keyword("domain", value.lower().lstrip("@"))
    if name == "direction":
        if value.lower() not in DIRECTIONS:
            raise QueryError(
                f"direction:{value} at character {offset + 1}: use one of " + ", ".join(DIRECTIONS)
            )
        return Keyword("direction", value.lower())
    if name == "has":
        if value.lower() not in ("attachment", "attachments"):
            raise QueryError(f"has:{value} at character {offset + 1}: only has:attachment is known")
        return HasAttachment()
    if name in ("larger", "smaller"):
        size = _size(value, name, offset)
        return SizeRange(size, None) if name == "larger" else SizeRange(None, size)
    start, end = _day_span(value, name, offset)
    if name == "after":
        return DateRange(start, None)
    if name == "before":
        return DateRange(None, start)
    return DateRange(start, end)


def _size(value: str, name: str, offset: int) -> int:
    match = _SIZE.fullmatch(value)
    if match is None:
        raise QueryError(f"{name}:{value} at character {offset + 1}: write a size like 500k, 2M or 1024")
    unit = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group("unit").lower()]
    return int(float(match.group("number")) * unit)


def _day_span(value: str, name: str, offset: int) -> tuple[datetime, datetime]:
    """The first instant of the day, month or year written, and the first after it."""
    cleaned = value.replace("/", "-").replace(".", "-")
    for fmt, step in (("%Y-%m-%d", "day"), ("%Y-%m", "month"), ("%Y", "year")):
        try:
            start = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        if step == "day":
            return start, start + timedelta(days=1)
        if step == "month":
            return start, start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        return start, start.replace(year=start.year + 1)
    raise QueryError(f"{name}:{value} at character {offset + 1}: write a date as YYYY-MM-DD, YYYY-MM or YYYY")


def positive_texts(node: Node) -> list[str]:
    """The words and phrases a result is expected to contain (not those under NOT): for snippets."""
    if isinstance(node, Text):
        return [node.value]
    if isinstance(node, Address) and "@" not in node.value and "." not in node.value:
        return [node.value]
    if isinstance(node, And | Or):
        return [text for part in node.parts for text in positive_texts(part)]
    return []


RECIPIENT_ROLES = ("to", "cc", "bcc")  # to: means any recipient


def looks_like_address(value: str) -> bool:
    """Free text that may be an address, part of one or a domain (huawei.com, not 8504.40.90 or
    v2.1): searched among addresses too."""
    if "@" in value:
        return True
    labels = value.split(".")
    return (
        len(labels) >= 2
        and " " not in value
        and all(labels)
        and labels[-1].isalpha()
        and len(labels[-1]) >= 2
    )


def address_exact(value: str) -> str | None:
    """The exact term an address filter value stands for (zhang.wei@huawei.com; huawei.com and
    @huawei.com as domains), or None when it is a prefix (zhang.wei@, zhang)."""
    if value.startswith("@"):
        return value[1:]
    if "@" in value and not value.endswith("@"):
        return value
    if "." in value and "@" not in value:
        return value
    return None
