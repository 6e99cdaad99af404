"""Builds the test messages the tests need, as raw bytes (our own fixtures, not the corpus)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid


def make_message(
    *,
    subject: str = "Quotation PI-2024-031",
    body: str = "Dear Hans,\nplease find our quotation attached.\n",
    sender: str = "张伟 <zhang.wei@huaqiang-elec.com.cn>",
    to: str = "Hans Müller <hans@kunde.de>",
    cc: str | None = None,
    message_id: str | None = "auto",
    date: datetime | None = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC),
    attachments: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
    extra_headers: dict[str, str] | None = None,
    html: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    if date is not None:
        msg["Date"] = format_datetime(date)
    if message_id == "auto":
        msg["Message-ID"] = make_msgid(domain="huaqiang-elec.com.cn")
    elif message_id is not None:
        msg["Message-ID"] = message_id
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes(policy=SMTP)


def raw_message(headers: bytes, body: bytes) -> bytes:
    """A message assembled by hand, for bytes no library would write (8-bit headers, bad charsets)."""
    return headers.strip(b"\n").replace(b"\n", b"\r\n") + b"\r\n\r\n" + body
