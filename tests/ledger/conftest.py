"""An archive with a few sealed arrivals and audit events, for the ledger tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailvault.access import audit
from mailvault.access.audit import Action
from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.ingest import IngestResult
from mailvault.archive.models import SourceKind
from mailvault.archive.store import Archive
from mailvault.config import Settings
from tests.mailfactory import make_message


@pytest.fixture
def vault(settings: Settings) -> Iterator[Archive]:
    """An opened archive. Unlike `archive`, no index check afterwards: these tests put rows in the
    database that no ingest wrote, as an attacker would."""
    with Archive(settings) as opened:
        yield opened


def fill(archive: Archive) -> list[IngestResult]:
    """Three messages by SMTP, a second arrival of the first from a file, two audit events:
    ledger entries 1-3 (arrivals with their messages), 4 (arrival only), 5-6 (audit)."""
    raws = [make_message(subject=f"Quotation {n}") for n in range(3)]
    smtp = [
        Arrival(raw, SourceInfo(SourceKind.SMTP, "127.0.0.1", locator=f"q{n}", envelope_from="hans@kunde.de"))
        for n, raw in enumerate(raws)
    ]
    results = archive.ingestor.ingest_many(smtp)
    archive.ingestor.ingest(
        Arrival(raws[0], SourceInfo(SourceKind.FILE, "/import/a.eml", owner="li.na@x.cn"))
    )
    audit.record(archive.db, username="li.na", action=Action.SEARCH, address="10.0.0.7", query="Quotation")
    audit.record(archive.db, username="li.na", action=Action.VIEW_MESSAGE, address="10.0.0.7", target="1")
    return results
