"""Header decoding: RFC 2047 words, raw 8-bit headers, addresses, dates and Message-IDs."""

from __future__ import annotations

import base64
from datetime import datetime

from mailvault.mime.headers import (
    decode_header,
    parse_addresses,
    parse_date,
    parse_message_id,
    parse_message_ids,
)
from mailvault.mime.model import Address


def b64word(charset: str, data: bytes) -> str:
    return f"=?{charset}?B?{base64.b64encode(data).decode()}?="


def test_encoded_words_in_chinese_charsets() -> None:
    subject = "回复：深圳华强 报价"
    assert decode_header(b64word("gb2312", subject.encode("gbk"))) == subject
    assert decode_header(b64word("big5", "轉寄：報價".encode("big5"))) == "轉寄：報價"
    assert decode_header("Re: =?utf-8?q?caf=C3=A9_cr=C3=A8me?= ok") == "Re: café crème ok"


def test_character_split_across_encoded_words_is_joined() -> None:
    # Outlook and Foxmail cut words mid-character; RFC 2047 forbids it, mail has it anyway.
    data = "深圳华强电子".encode("gbk")
    header = f"{b64word('gbk', data[:5])}\r\n {b64word('gbk', data[5:])}"
    assert decode_header(header) == "深圳华强电子"


def test_white_space_between_encoded_words_is_dropped_but_not_around_text() -> None:
    header = "=?utf-8?q?Hello?= =?utf-8?q?World?= and =?utf-8?q?more?="
    assert decode_header(header) == "HelloWorld and more"


def test_raw_eight_bit_header_is_detected() -> None:
    raw = "关于样品的问题".encode("gbk").decode("ascii", "surrogateescape")
    assert decode_header(raw) == "关于样品的问题"
    utf8 = "Grüße".encode().decode("ascii", "surrogateescape")
    assert decode_header(utf8) == "Grüße"


def test_broken_encoded_word_is_kept_literally() -> None:
    assert decode_header("=?utf-8?B?###?=") in ("=?utf-8?B?###?=", "")


def test_addresses_with_encoded_names_and_commas() -> None:
    name = b64word("gb2312", "张伟".encode("gbk"))
    found = parse_addresses(
        [f'{name} <Zhang.Wei@Example.COM>, "Li, Na" <li@x.cn>', "undisclosed-recipients:;"]
    )
    assert found[:2] == [
        Address("张伟", "zhang.wei@example.com"),
        Address("Li, Na", "li@x.cn"),
    ]
    assert found[0].domain == "example.com"


def test_dates_become_naive_utc() -> None:
    assert parse_date("Tue, 1 Jul 2003 10:52:37 +0800") == datetime(2003, 7, 1, 2, 52, 37)
    assert parse_date("1 Jul 2003 10:52:37") == datetime(2003, 7, 1, 10, 52, 37)
    assert parse_date("the day after tomorrow") is None


def test_message_ids() -> None:
    assert parse_message_id(" <abc.123@mail.example> ") == "abc.123@mail.example"
    assert parse_message_id("bare@host") == "bare@host"
    assert parse_message_id("no id here") is None
    assert parse_message_ids("<a@b>\r\n <c@d> <a@b>") == ["a@b", "c@d"]
