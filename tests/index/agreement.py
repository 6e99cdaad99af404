"""The check every ingest test can end with: the index holds exactly the archived messages;
and how many messages a query finds."""

from __future__ import annotations

from sqlalchemy import select

from mailvault.archive.models import Message
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.index import manage
from mailvault.index.engine import Sort
from mailvault.index.query import parse


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


def hits(settings: Settings, query: str) -> int:
    """How many messages the index in use finds for this query."""
    engine = manage.open_for_search(settings)
    try:
        return engine.search(parse(query), sort=Sort.DATE, offset=0, limit=1).total
    finally:
        engine.close()
