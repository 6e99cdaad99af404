"""The mail of one employee: every archived message they sent, received (To, Cc, Bcc or envelope)
or held in an imported mailbox. Reply-To alone does not count, as in access/scope.py."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailvault.archive.models import Participant, Role, Source

COUNTED_ROLES = tuple(r.value for r in Role if r is not Role.REPLY_TO)
CHUNK = 500  # ids per IN (...): under SQLite's bound-parameter limit


def message_ids(session: Session, employee: str) -> list[int]:
    """Archive ids of the employee's mail, ascending."""
    employee = employee.strip().lower()
    ids = set(
        session.scalars(
            select(Participant.archive_id).where(
                Participant.role.in_(COUNTED_ROLES), Participant.address == employee
            )
        )
    )
    ids.update(session.scalars(select(Source.archive_id).where(Source.owner == employee)))
    return sorted(ids)


def chunks(ids: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    batch: list[int] = []
    for archive_id in ids:
        batch.append(archive_id)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def rows_for(session: Session, ids: list[int], *columns: Any, where: Any = None) -> list[Any]:
    """`columns` of the rows whose archive id is in `ids` (the first column's table), chunked."""
    found: list[Any] = []
    archive_id = columns[0].table.c.archive_id
    for chunk in chunks(ids):
        query = select(*columns).where(archive_id.in_(chunk))
        if where is not None:
            query = query.where(where)
        found.extend(session.execute(query).all())
    return found
