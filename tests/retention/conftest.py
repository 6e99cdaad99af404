"""Shared by the retention tests: people with each role, and messages of a chosen age and owner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from mailvault.access.models import UserRole
from mailvault.access.users import add_user
from mailvault.archive.arrival import Arrival, SourceInfo, utcnow
from mailvault.archive.models import SourceKind
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.index import manage
from tests.mailfactory import make_message

PASSWORD = "a long password 1"  # noqa: S105 (a test user's)
ADMIN, AUDITOR, EMPLOYEE = "ada", "otto", "li.na"
LI_NA = "li.na@huaqiang-elec.com.cn"
OLD = datetime(2015, 3, 4, 9, 0, tzinfo=UTC)  # years past every rule in these tests
_locators = count()


@pytest.fixture
def people(archive: Archive) -> None:
    add_user(archive.db, ADMIN, PASSWORD, UserRole.ADMIN)
    add_user(archive.db, AUDITOR, PASSWORD, UserRole.AUDITOR)
    add_user(archive.db, EMPLOYEE, PASSWORD, UserRole.EMPLOYEE, email=LI_NA)


def recent() -> datetime:
    return utcnow().replace(tzinfo=UTC) - timedelta(days=2)


def put(
    archive: Archive,
    *,
    date: datetime | None = OLD,
    sender: str = "zhang.wei@huaqiang-elec.com.cn",
    to: str = "hans@kunde.de",
    subject: str = "Quotation",
    body: str = "Dear Hans,\nplease find our quotation.\n",
    owner: str | None = None,
    message_id: str | None = "auto",
    extra_headers: dict[str, str] | None = None,
) -> int:
    """Archive one message (as a file import, from `owner`'s mailbox when given); its archive id."""
    raw = make_message(
        subject=subject,
        body=body,
        sender=sender,
        to=to,
        date=date,
        message_id=message_id,
        extra_headers=extra_headers,
    )
    source = SourceInfo(SourceKind.FILE, "/import/test.mbox", locator=str(next(_locators)), owner=owner)
    return archive.ingestor.ingest(Arrival(raw, source)).archive_id


def index(settings: Settings, archive: Archive) -> None:
    """Bring the search index up to date, as the live indexer would."""
    manage.update(settings, archive)
