"""parse_message on messages the tests build: text, attachments, nesting, and damage."""

from __future__ import annotations

import base64
import email.message
from email.policy import SMTP

from hypothesis import given, settings
from hypothesis import strategies as st

from mailvault.mime import parse_message
from mailvault.mime.model import ParseStatus
from tests.mailfactory import make_message, raw_message


def test_plain_message() -> None:
    parsed = parse_message(make_message(subject="报价 Quotation", body="您好，请查收报价。\n"))
    assert parsed.status is ParseStatus.OK, parsed.problems
    assert parsed.subject == "报价 Quotation"
    assert parsed.from_[0].name == "张伟"
    assert parsed.from_[0].addr == "zhang.wei@huaqiang-elec.com.cn"
    assert parsed.to[0].addr == "hans@kunde.de"
    assert "请查收报价" in parsed.text
    assert parsed.message_id is not None
    assert parsed.message_id.endswith("@huaqiang-elec.com.cn")


def test_alternative_prefers_plain_text_and_html_alone_is_converted() -> None:
    both = parse_message(make_message(body="plain words\n", html="<p>html <b>words</b></p>"))
    assert "plain words" in both.text
    assert "html" not in both.text
    html_only = raw_message(
        b"From: a@x.cn\nSubject: h\nContent-Type: text/html; charset=utf-8",
        "<html><head><style>p{}</style><script>alert(1)</script></head>"
        "<body><p>报价单</p><p>第二段</p></body></html>".encode(),
    )
    parsed = parse_message(html_only)
    assert "报价单" in parsed.text
    assert "第二段" in parsed.text
    assert "alert" not in parsed.text


def test_html_meta_charset_is_used_when_mime_gives_none() -> None:
    html = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=big5"></head>'
    body = (html + "<body>報價單</body></html>").encode("big5")
    raw = raw_message(b"From: a@x.tw\nSubject: s\nContent-Type: text/html", body)
    assert "報價單" in parse_message(raw).text


def test_attachment_names_in_every_encoding() -> None:
    pdf = b"%PDF-1.4 fake"
    parsed = parse_message(make_message(attachments=[("形式发票.pdf", pdf, "application/pdf")]))
    assert [(a.filename, a.size) for a in parsed.attachments] == [("形式发票.pdf", len(pdf))]

    quoted_2047 = "=?gb2312?B?" + base64.b64encode("报价单.xlsx".encode("gbk")).decode() + "?="
    eight_bit = "合同.docx".encode("gbk")
    raw = raw_message(
        b"From: a@x.cn\nSubject: files\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX",
        b"--XX\r\nContent-Type: text/plain\r\n\r\nsee files\r\n"
        b"--XX\r\nContent-Type: application/vnd.ms-excel\r\n"
        b'Content-Disposition: attachment; filename="' + quoted_2047.encode() + b'"\r\n\r\nxls\r\n'
        b"--XX\r\nContent-Type: application/msword\r\n"
        b'Content-Disposition: attachment; filename="' + eight_bit + b'"\r\n\r\ndoc\r\n'
        b"--XX\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%E5%8F%91%E7%A5%A8.pdf\r\n\r\npdf\r\n"
        b"--XX--\r\n",
    )
    names = [a.filename for a in parse_message(raw).attachments]
    assert names == ["报价单.xlsx", "合同.docx", "发票.pdf"]


def test_nested_message_is_an_attachment_and_its_text_is_read() -> None:
    inner = email.message_from_bytes(make_message(subject="原始询价", body="inner body words\n"))
    outer = email.message.EmailMessage()
    outer["From"] = "li.na@huaqiang-elec.com.cn"
    outer["Subject"] = "Fw: 原始询价"
    outer.set_content("see below\n")
    outer.add_attachment(inner)
    parsed = parse_message(outer.as_bytes(policy=SMTP))
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]
    assert parsed.attachments[0].filename == "原始询价.eml"
    assert "inner body words" in parsed.text


def test_uuencoded_file_is_recognised() -> None:
    import binascii

    data = b"hello uuencoded world\n" * 3
    lines = [binascii.b2a_uu(data[i : i + 45]) for i in range(0, len(data), 45)]
    body = b"see attached\r\n\r\nbegin 644 notes.txt\r\n" + b"".join(lines) + b"`\r\nend\r\n"
    parsed = parse_message(raw_message(b"From: a@x.cn\nSubject: uu", body))
    assert [(a.filename, a.size, a.encoding) for a in parsed.attachments] == [
        ("notes.txt", len(data), "uuencode")
    ]
    assert "begin 644" not in parsed.text
    assert "see attached" in parsed.text


def test_tnef_is_recognised_even_when_unreadable() -> None:
    raw = raw_message(
        b"From: a@x.cn\nSubject: t\nContent-Type: multipart/mixed; boundary=B",
        b"--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B\r\nContent-Type: application/ms-tnef;"
        b' name="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--B--\r\n',
    )
    parsed = parse_message(raw)
    assert parsed.attachments[0].filename == "winmail.dat"
    assert any("TNEF" in p for p in parsed.problems)


def test_missing_boundary_is_flagged_not_fatal() -> None:
    raw = raw_message(
        b"From: a@x.cn\nSubject: broken\nContent-Type: multipart/mixed; boundary=NOPE",
        b"no boundary ever appears here\r\n",
    )
    parsed = parse_message(raw)
    assert parsed.status is ParseStatus.DEFECTS
    assert parsed.problems


def test_obsolete_header_syntax_is_read() -> None:
    parsed = parse_message(b"Subject : old style\r\nFrom  : a@x.cn\r\n\r\nbody\r\n")
    assert parsed.subject == "old style"
    assert parsed.status is ParseStatus.DEFECTS


def test_garbage_fails_cleanly() -> None:
    assert parse_message(b"").status is ParseStatus.FAILED
    parsed = parse_message(b"\x00\x01\x02 binary junk \xff\xfe")
    assert parsed.status is ParseStatus.FAILED
    assert parsed.problems


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_parse_never_raises(raw: bytes) -> None:
    parsed = parse_message(raw)
    assert isinstance(parsed.status, ParseStatus)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["gbk", "big5", "utf-8", "latin-1", "koi8-r"]))
def test_parse_never_raises_on_odd_text(text: str, encoding: str) -> None:
    body = text.encode(encoding, "replace")
    raw = b"Subject: " + body[:80].replace(b"\n", b" ") + b"\r\nFrom: x@y\r\n\r\n" + body
    assert isinstance(parse_message(raw).text, str)


def test_display_parse_keeps_html_and_the_archives_attachment_order() -> None:
    """parse_for_display sees the same attachments at the same positions as the archive
    (downloads are addressed by position), plus the HTML and each attachment's bytes."""
    from mailvault.mime.parse import parse_for_display

    html_only = raw_message(
        b"From: a@b.cn\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/html",
        '<meta charset="gbk"><p>报价单已发送</p>'.encode("gbk"),
    )
    shown = parse_for_display(html_only)
    assert shown.html == ['<meta charset="gbk"><p>报价单已发送</p>']
    assert "报价单已发送" in shown.result.text
    raw = make_message(
        html="<p>见附件</p>",
        attachments=[
            ("a.pdf", b"%PDF-1", "application/pdf"),
            ("报价.xlsx", b"PK\x03\x04", "application/zip"),
        ],
    )
    shown = parse_for_display(raw)
    archived = parse_message(raw)
    assert shown.result.attachments == archived.attachments
    assert shown.contents == [b"%PDF-1", b"PK\x03\x04"]
    assert [h.strip() for h in shown.html] == ["<p>见附件</p>"]
