"""The report: HTML that escapes what senders wrote, and a PDF whose text says what the HTML says."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pypdf
import pytest

from mailvault.errors import MailvaultError
from mailvault.evidence import Report, Section
from mailvault.evidence.pdf import markup, render_pdf
from mailvault.evidence.report import render_html
from tests.evidence.conftest import EMPLOYEE, HOSTILE, Build, members, report


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_html_report_escapes_hostile_subjects_and_fetches_nothing(build: Build) -> None:
    data, result = build()
    html = members(data)["report.html"].decode("utf-8")
    assert "<script" not in html
    assert "<img" not in html
    assert (
        "Invoice &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;"
        in html
    )
    assert not re.search(r"<[^>]*\b(src|href)=|@import|url\(", html)  # self-contained: nothing to fetch
    assert "报价单" in html
    assert EMPLOYEE in html
    for entry in result.manifest.entries:
        assert entry.sha256 in html
        assert entry.ledger is not None
        assert f"<td>#{entry.ledger['seq']}</td>" in html
    assert f"#{result.ledger_head.seq} {result.ledger_head.entry_hash}" in html
    assert "如何核验本证据包" in html
    assert "2025-06-30 10:00 +08:00" in html


def test_english_report_uses_english_labels(build: Build) -> None:
    data, _ = build(language="en")
    html = members(data)["report.html"].decode("utf-8")
    assert '<html lang="en">' in html
    assert "How to check this package" in html
    assert "如何核验" not in html
    assert "Ledger head when prepared" in html


def test_pdf_report_holds_the_chinese_subject_the_employee_and_the_hashes(build: Build) -> None:
    data, result = build()
    text = pdf_text(members(data)["report.pdf"])
    assert "报价单" in text
    assert EMPLOYEE in text
    assert "深圳华强电子" in text
    assert "第 1 页，共" in text
    joined = text.replace("\n", "")  # each SHA-256 is printed as two lines of 32 digits
    for entry in result.manifest.entries:
        assert entry.sha256 in joined
    # As text (escaped for reportlab's markup, not interpreted), wherever the cell wraps it.
    assert re.sub(r"\s", "", HOSTILE) in re.sub(r"\s", "", text)


def test_pdf_is_the_same_bytes_for_the_same_report(build: Build) -> None:
    _, result = build()
    first = render_pdf(result.report)
    assert first.startswith(b"%PDF-")
    assert render_pdf(result.report) == first


def test_pdf_markup_sets_chinese_in_the_cid_font_and_escapes() -> None:
    assert markup("报价 <b>PI</b>") == '<font name="STSong-Light">报价</font> &lt;b&gt;PI&lt;/b&gt;'
    assert markup("a\x00b😀") == 'ab<font name="STSong-Light">□</font>'


def test_long_tables_wrap_and_break_across_pages() -> None:
    rows = [[f"{n}", "很长的主题 " * 30, "x" * 200] for n in range(120)]
    long = render_pdf(report_with(Section("Long", ["#", "主题", "raw"], rows)))
    pages = pypdf.PdfReader(io.BytesIO(long)).pages
    assert len(pages) > 2
    assert "119" in pages[-1].extract_text()


def report_with(section: Section) -> Report:
    return replace(report(), sections=[section])


def test_a_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(MailvaultError, match="row 2 has 1 cells for 2 columns"):
        Section("客户", ["a", "b"], [["1", "2"], ["3"]])


def test_render_html_alone() -> None:
    html = render_html(report())
    assert "H-2025-017" in html
    assert "按邮件数排序" in html
