"""Exchange / Microsoft 365 envelope journal reports built the way Exchange writes them."""

from __future__ import annotations

import base64


def journal_report(
    original: bytes,
    fields: list[str],
    *,
    report_id: str = "<report-1@journal.contoso.com>",
    base64_original: bool = False,
) -> bytes:
    """A report: a text part with one envelope field per line, then the original attached."""
    body = "\r\n".join(fields) + "\r\n"
    attached = base64.encodebytes(original) if base64_original else original
    encoding = "base64" if base64_original else "7bit"
    return (
        b"From: Microsoft Outlook <MicrosoftExchange329e71ec@huaqiang-elec.com.cn>\r\n"
        b"To: archive@archive.example\r\n"
        b"Subject: Quotation PI-2024-031\r\n"
        b"Message-ID: " + report_id.encode() + b"\r\n"
        b"X-MS-Journal-Report:\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="_journal_boundary_"\r\n'
        b"\r\n"
        b"--_journal_boundary_\r\n"
        b'Content-Type: text/plain; charset="us-ascii"\r\n'
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"\r\n" + body.encode() + b"\r\n"
        b"--_journal_boundary_\r\n"
        b"Content-Type: message/rfc822\r\n"
        b"Content-Transfer-Encoding: " + encoding.encode() + b"\r\n"
        b"\r\n" + attached + b"\r\n"
        b"--_journal_boundary_--\r\n"
    )
