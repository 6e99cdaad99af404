"""The check every ingest test can end with: the index holds exactly the archived messages."""

from __future__ import annotations

from sqlalchemy import select

from mailvault.archive.models import Message
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.index import manage


def assert_index_agrees(settings: Settings, archive: Archive) -> None:
    """Bring the index up to date, then compare it with the archive id by id."""
    manage.update(settings, archive)
    with archive.db.reading() as session:
        archived = set(session.scalars(select(Message.archive_id)))
    engine = manage.open_for_search(settings)
    try:
        assert engine.document_count() == len(archived), "the index holds messages the archive does not"
        missing = archived - engine.contains(sorted(archived))
        assert not missing, f"archived but not indexed: {sorted(missing)[:10]}"
    finally:
        engine.close()
