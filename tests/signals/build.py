"""Archives for the signal tests: generated messages ingested as the gateway and importers do."""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.models import SourceKind
from mailvault.archive.store import Archive
from mailvault.signals.models import RiskSignal
from mailvault.signals.scan import ScanResult, scan
from tests.mailfactory import make_message, raw_message

COMPANY = "huaqiang-elec.com.cn"
ZHANG = f"zhang.wei@{COMPANY}"
LI = f"li.na@{COMPANY}"
T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
_locators = itertools.count(1)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def ingest(
    archive: Archive,
    raw: bytes,
    *,
    envelope_to: tuple[str, ...] = (),
    envelope_from: str | None = None,
) -> int:
    """Archive `raw` as a file import, or with envelope recipients as an SMTP (journal) arrival."""
    if envelope_to:
        source = SourceInfo(
            SourceKind.SMTP,
            "127.0.0.1",
            locator=f"q{next(_locators)}",
            envelope_from=envelope_from,
            envelope_to=envelope_to,
        )
    else:
        source = SourceInfo(SourceKind.FILE, "/import/test.mbox", locator=str(next(_locators)))
    return archive.ingestor.ingest(Arrival(raw, source)).archive_id


def mail(archive: Archive, **fields: Any) -> int:
    envelope_to = fields.pop("envelope_to", ())
    return ingest(archive, make_message(**fields), envelope_to=envelope_to)


def gbk_mail(
    archive: Archive, *, sender: str, to: str, body: str, charset: str = "GBK", hours: float = 0
) -> int:
    """A message written by a Chinese mail client: an 8-bit GBK (or GB18030) body."""
    headers = (
        f"From: {sender}\nTo: {to}\nSubject: =?{charset}?B?"
        + base64.b64encode("付款通知".encode(charset)).decode()
        + f"?=\nDate: {at(hours).strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
        f"Message-ID: <gbk-{next(_locators)}@{COMPANY}>\nMIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: 8bit\n"
    ).encode()
    return ingest(archive, raw_message(headers, body.encode(charset).replace(b"\n", b"\r\n")))


def scan_all(archive: Archive, **options: Any) -> ScanResult:
    """One scan that may move every position (nothing in a test is still being committed)."""
    options.setdefault("settle", timedelta(0))
    return scan(archive, archive.settings, **options)


def signals(archive: Archive, kind: str | None = None) -> list[RiskSignal]:
    with archive.db.reading() as session:
        statement = select(RiskSignal).order_by(RiskSignal.signal_id)
        if kind is not None:
            statement = statement.where(RiskSignal.kind == kind)
        return list(session.scalars(statement))
