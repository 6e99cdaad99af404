"""An archive with the company's signal settings: small thresholds, one company bank account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailvault.archive.store import Archive
from tests.conftest import make_settings

OWN_ACCOUNTS = ["6222 0212 3456 7890", "DE89 3704 0044 0532 0130 00", "BKCHCNBJ"]


@pytest.fixture
def archive(tmp_path: Path, database_url: str) -> Iterator[Archive]:
    settings = make_settings(
        tmp_path,
        database_url,
        signals={
            "company_bank_accounts": OWN_ACCOUNTS,
            "bulk_forward_messages": 3,
            "bulk_forward_hours": 24,
            "mass_deletion_messages": 5,
            "mass_deletion_hours": 24,
        },
    )
    with Archive(settings) as opened:
        yield opened
