"""The query language: what each construct parses to, and one-line errors for what is wrong."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from mailvault.index.query import (
    Address,
    And,
    DateRange,
    Everything,
    HasAttachment,
    Keyword,
    Not,
    Or,
    QueryError,
    SizeRange,
    Text,
    looks_like_address,
    parse,
    positive_texts,
)


def test_words_are_anded_and_or_binds_looser() -> None:
    assert parse("a b") == And((Text("a"), Text("b")))
    assert parse("a b OR c") == Or((And((Text("a"), Text("b"))), Text("c")))
    assert parse("a AND b") == And((Text("a"), Text("b")))
    assert parse("(a OR b) c") == And((Or((Text("a"), Text("b"))), Text("c")))
    assert parse("") == Everything()


def test_negation_phrases_and_lowercase_operators() -> None:
    assert parse('-draft "payment terms"') == And((Not(Text("draft")), Text("payment terms")))
    assert parse("NOT 华强") == Not(Text("华强"))
    assert parse("a or b") == And((Text("a"), Text("or"), Text("b")))  # only OR in capitals is an operator


def test_filters() -> None:
    assert parse("from:Zhang.Wei@") == Address("from", "zhang.wei@")
    assert parse("to:huawei.com") == Address("to", "huawei.com")
    assert parse("domain:@Huawei.com") == Keyword("domain", "huawei.com")
    assert parse('subject:"price list"') == Text("price list", "subject")
    assert parse("attachment:invoice") == Text("invoice", "attachments")
    assert parse("has:attachment") == HasAttachment()
    assert parse("direction:inbound") == Keyword("direction", "inbound")
    assert parse("after:2025-01-01") == DateRange(datetime(2025, 1, 1), None)
    assert parse("before:2025-07") == DateRange(None, datetime(2025, 7, 1))
    assert parse("on:2025-12") == DateRange(datetime(2025, 12, 1), datetime(2026, 1, 1))
    assert parse("on:2025-03-15") == DateRange(datetime(2025, 3, 15), datetime(2025, 3, 16))
    assert parse("larger:2M") == SizeRange(2 * 1024 * 1024, None)
    assert parse("smaller:500k") == SizeRange(None, 500 * 1024)
    assert parse("from：李娜") == Address("from", "李娜")  # a full-width colon, as Chinese keyboards type


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("a OR", "the query ends with OR"),
        ("(a b", "is never closed"),
        ("a b)", "unexpected ')'"),
        ("form:x", "unknown filter form:"),
        ("after:yesterday", "write a date as YYYY-MM-DD"),
        ("larger:huge", "write a size like 500k"),
        ("has:pdf", "only has:attachment"),
        ("direction:sideways", "use one of inbound"),
        ("from:", "needs a value"),
        ('""', "empty phrase"),
        ("NOT", "followed by nothing"),
        ("()", "nothing to search for"),
    ],
)
def test_bad_queries_get_one_line_errors(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)) as raised:
        parse(query)
    assert "\n" not in str(raised.value)


def test_positive_texts_leave_out_negated_words() -> None:
    assert positive_texts(parse('华强 "net 30" -draft from:李娜 from:x@y.cn')) == ["华强", "net 30", "李娜"]


def test_only_address_like_words_are_also_searched_as_addresses() -> None:
    assert looks_like_address("zhang.wei@")
    assert looks_like_address("huaqiang-elec.com.cn")
    assert not looks_like_address("8504.40.9999")  # an HS code
    assert not looks_like_address("v2.1")
    assert not looks_like_address("end.")
