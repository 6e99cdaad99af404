"""Exchange envelope journal reports: the original comes out byte for byte, the envelope complete."""

from __future__ import annotations

from mailvault.mime.journalreport import is_journal_report, unwrap
from tests.mailfactory import make_message
from tests.mailfactory_journal import journal_report

FIELDS = [
    "Sender: zhang.wei@huaqiang-elec.com.cn",
    "Subject: Quotation PI-2024-031",
    "Message-Id: <q-031@huaqiang-elec.com.cn>",
    "To: hans@kunde.de",
    "Cc: li.na@huaqiang-elec.com.cn",
    "Bcc: boss@huaqiang-elec.com.cn",
    "To: wang.fang@huaqiang-elec.com.cn, Expanded: sales@huaqiang-elec.com.cn",
    "Cc: deputy@huaqiang-elec.com.cn, Forwarded: li.na@huaqiang-elec.com.cn",
]


def test_original_and_envelope_come_out_exactly() -> None:
    original = make_message(message_id="<q-031@huaqiang-elec.com.cn>")
    report = unwrap(journal_report(original, FIELDS))
    assert report is not None
    assert report.original == original
    assert report.sender == "zhang.wei@huaqiang-elec.com.cn"
    assert report.message_id == "q-031@huaqiang-elec.com.cn"
    assert report.envelope_to == (
        "hans@kunde.de",
        "li.na@huaqiang-elec.com.cn",
        "boss@huaqiang-elec.com.cn",
        "wang.fang@huaqiang-elec.com.cn",
        "deputy@huaqiang-elec.com.cn",
    )
    expanded = [r for r in report.recipients if r.expanded_from]
    assert expanded[0].expanded_from == "sales@huaqiang-elec.com.cn"
    forwarded = [r for r in report.recipients if r.forwarded_from]
    assert forwarded[0].forwarded_from == "li.na@huaqiang-elec.com.cn"


def test_base64_attached_original_is_decoded_exactly() -> None:
    original = make_message(subject="报价", body="您好\n")
    report = unwrap(journal_report(original, FIELDS, base64_original=True))
    assert report is not None
    assert report.original == original


def test_ordinary_mail_is_not_a_report() -> None:
    assert not is_journal_report(make_message())
    assert unwrap(make_message()) is None
    # A message that merely mentions the header in its body is not a report either.
    assert not is_journal_report(b"Subject: x\r\n\r\nX-MS-Journal-Report: no\r\n")


def test_damaged_report_is_not_unwrapped() -> None:
    damaged = journal_report(make_message(), FIELDS).replace(b"message/rfc822", b"text/plain")
    assert unwrap(damaged) is None
