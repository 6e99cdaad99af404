"""Charset labels mapped to what mailers really send, and repair of missing or wrong labels."""

from __future__ import annotations

import pytest

from mailvault.mime.charset import codec_for, decode_bytes

SIMPLIFIED = "深圳市华强电子有限公司：您好！请查收形式发票 PI-2024-031，付款方式 T/T。"
TRADITIONAL = "深圳華強電子有限公司，您好！請查收報價單，謝謝。"


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GB2312", "gb18030"),
        ('"gbk"', "gb18030"),
        ("x-gbk", "gb18030"),
        ("cp936", "gb18030"),
        ("big5", "big5hkscs"),
        ("iso-8859-1", "cp1252"),
        ("ks_c_5601-1987", "cp949"),
        ("iso-2202-jp", "iso2022_jp"),
        ("unicode-1-1-utf-7", "utf-7"),
        ("fakescii", None),
        ("", None),
        (None, None),
    ],
)
def test_labels_map_to_the_codec_mailers_really_use(label: str | None, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_gb2312_label_decodes_characters_only_gbk_and_gb18030_have() -> None:
    # 镕 (rong, as in 朱镕基) is outside GB2312 but Chinese mailers label such text gb2312 anyway.
    text = "朱镕基 and 䶮"
    decoded = decode_bytes(text.encode("gb18030"), "gb2312")
    assert decoded.text == text
    assert not decoded.repaired


@pytest.mark.parametrize(
    ("text", "encoding", "label"),
    [
        (SIMPLIFIED, "gbk", "us-ascii"),
        (SIMPLIFIED, "gbk", None),
        (SIMPLIFIED, "gbk", "iso-8859-1"),
        (SIMPLIFIED, "utf-8", "gb2312"),
        (TRADITIONAL, "big5", "us-ascii"),
        (TRADITIONAL, "big5", None),
        (SIMPLIFIED, "gb18030", "fakescii"),
        ("中文", "gbk", None),
        ("主题", "gbk", None),
    ],
)
def test_mislabelled_chinese_is_repaired(text: str, encoding: str, label: str | None) -> None:
    decoded = decode_bytes(text.encode(encoding), label)
    assert decoded.text == text
    assert decoded.repaired


@pytest.mark.parametrize(
    ("text", "encoding", "label"),
    [
        ("Grüße aus München, café crème", "latin-1", "iso-8859-1"),
        ("Grüße aus München, café crème", "latin-1", None),
        ("Smart “quotes” – dashes", "cp1252", "windows-1252"),
        ("Привет, как дела? Всё хорошо, спасибо.", "koi8-r", "koi8-r"),
        ("日本語のテキスト", "iso-2022-jp", "iso-2022-jp"),
    ],
)
def test_other_languages_keep_their_charsets(text: str, encoding: str, label: str | None) -> None:
    assert decode_bytes(text.encode(encoding), label).text == text


def test_real_mojibake_stays_as_written() -> None:
    # 锟斤拷 is what GBK makes of UTF-8's replacement characters: the sender's text, not ours to fix.
    assert decode_bytes("锟斤拷锟斤拷".encode("gbk"), "gb2312").text == "锟斤拷锟斤拷"


def test_undecodable_bytes_never_raise() -> None:
    decoded = decode_bytes(bytes(range(256)) * 3, "utf-8")
    assert isinstance(decoded.text, str)
    assert decoded.repaired


@pytest.mark.parametrize(
    "text",
    ["Operating temperature 105°C max.", "Preis: 12,50 €, Größe M", "Déjà vu à la française"],
)
def test_latin_label_is_not_overruled_by_a_chance_chinese_reading(text: str) -> None:
    assert decode_bytes(text.encode("cp1252"), "iso-8859-1").text == text
