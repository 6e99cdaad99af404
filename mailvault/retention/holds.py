"""Legal holds: messages no retention rule may purge while the hold is in force. A hold names a
search query (mailvault's query language), an owner (an employee), a customer (an address or a
domain), or several of these: a message matching any of them is held. Releasing a hold keeps its
row: the record of what was held, from when to when, by whom and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailvault.access.audit import Action, record_in
from mailvault.archive.arrival import utcnow
from mailvault.archive.db import Database
from mailvault.index.query import QueryError, parse
from mailvault.ledger import payloads
from mailvault.ledger.chain import EntryKind, Seal, append
from mailvault.retention import RetentionError
from mailvault.retention.authority import HOLD_KEEPERS, change
from mailvault.retention.match import normal_address, normal_party
from mailvault.retention.models import LegalHold
from mailvault.retention.rules import valid_name

HOLD_FIELDS = (
    "hold_id",
    "name",
    "query",
    "owner",
    "customer",
    "reason",
    "created_at",
    "created_by",
    "released_at",
    "released_by",
)


@dataclass(frozen=True, slots=True)
class HoldInfo:
    hold_id: int
    name: str
    query: str  # "" when the hold names no query
    owner: str | None
    customer: str | None
    reason: str
    created_at: datetime
    created_by: str
    released_at: datetime | None
    released_by: str | None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def describe(self) -> str:
        """What the hold keeps, in words."""
        parts = [f"query {self.query!r}" if self.query else "", f"owner {self.owner}" if self.owner else ""]
        parts.append(f"customer {self.customer}" if self.customer else "")
        return "mail matching " + " or ".join(p for p in parts if p)

    def as_dict(self) -> dict[str, Any]:
        return payloads.of_object(self, HOLD_FIELDS)


def place_hold(
    db: Database,
    name: str,
    *,
    query: str = "",
    owner: str | None = None,
    customer: str | None = None,
    reason: str = "",
    by: str,
) -> HoldInfo:
    """A hold, in force as soon as this returns (a purge running now re-checks holds in each of its
    transactions). An admin or an auditor may place one."""
    name = valid_name(name)
    query = query.strip()
    if query:
        try:
            parse(query)
        except QueryError as exc:
            raise RetentionError(f"the hold's query cannot be used: {exc}") from None
    owner = normal_address(owner, "the hold's owner") if owner else None
    customer = normal_party(customer, "the hold's customer") if customer else None
    if not (query or owner or customer):
        raise RetentionError("a legal hold needs a query, an owner or a customer (or several)")
    with change(db, by, HOLD_KEEPERS, "place a legal hold", Action.HOLD_CHANGE) as (session, user):
        if session.scalars(select(LegalHold.hold_id).where(LegalHold.name == name)).first():
            raise RetentionError(f"a legal hold named {name} exists already (released holds keep their name)")
        hold = LegalHold(
            name=name,
            query=query,
            owner=owner,
            customer=customer,
            reason=reason.strip(),
            created_at=utcnow(),
            created_by=user,
        )
        session.add(hold)
        try:
            session.flush()
        except IntegrityError:
            raise RetentionError(f"a legal hold named {name} exists already") from None
        info = _info(hold)
        _record(session, info, "placed", user)
        return info


def release_hold(db: Database, name: str, *, by: str) -> HoldInfo:
    """End a hold: the messages it kept become purgeable again by the rules. The row stays."""
    with change(db, by, HOLD_KEEPERS, "release a legal hold", Action.HOLD_CHANGE) as (session, user):
        hold = session.scalars(select(LegalHold).where(LegalHold.name == name.strip())).first()
        if hold is None:
            raise RetentionError(f"no legal hold is named {name}; see `mailvault holds list`")
        if hold.released_at is not None:
            raise RetentionError(f"legal hold {hold.name} was released already, by {hold.released_by}")
        hold.released_at = utcnow()
        hold.released_by = user
        session.flush()
        info = _info(hold)
        _record(session, info, "released", user)
        return info


def list_holds(db: Database, *, include_released: bool = True) -> list[HoldInfo]:
    with db.reading() as session:
        if not include_released:
            return active_holds(session)
        return [_info(h) for h in session.scalars(select(LegalHold).order_by(LegalHold.name))]


def active_holds(session: Session) -> list[HoldInfo]:
    query = select(LegalHold).where(LegalHold.released_at.is_(None)).order_by(LegalHold.hold_id)
    return [_info(h) for h in session.scalars(query)]


def _record(session: Session, info: HoldInfo, what: str, user: str) -> None:
    append(session, [Seal(EntryKind.HOLD, f"{info.hold_id}:{what}", info.as_dict())])
    record_in(
        session,
        address="",
        username=user,
        action=Action.HOLD_CHANGE,
        target=f"{what} legal hold {info.name}: {info.describe()}",
        query=info.query,
        detail=info.as_dict(),
    )


def _info(hold: LegalHold) -> HoldInfo:
    return HoldInfo(
        hold_id=hold.hold_id,
        name=hold.name,
        query=hold.query or "",
        owner=hold.owner,
        customer=hold.customer,
        reason=hold.reason or "",
        created_at=hold.created_at,
        created_by=hold.created_by,
        released_at=hold.released_at,
        released_by=hold.released_by,
    )
