"""What a user may read. One rule, applied twice: as a query the search engine adds to every
search (so hits outside it are never even counted), and as a database check on every message,
thread, attachment and download (the authority; the index may lag).

A message is within a user's reach when one of the employees they may read (their own address;
for managers, the employees granted) sent it, received it (To, Cc, Bcc or envelope) or had it in
a mailbox that was imported; or, for a manager granted a domain, when any participant's address
is in that domain or a sub-domain of it. Reply-To alone does not count: anyone can write one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session

from mailvault.access.models import GrantKind, UserRole
from mailvault.access.users import UserInfo
from mailvault.archive.models import Participant, Role, Source
from mailvault.index.query import Address, And, Keyword, Node, Or

_COUNTED_ROLES = tuple(r.value for r in Role if r is not Role.REPLY_TO)


@dataclass(frozen=True, slots=True)
class Scope:
    everything: bool
    employees: frozenset[str]
    domains: frozenset[str]

    @classmethod
    def of(cls, user: UserInfo) -> Scope:
        if user.role in (UserRole.ADMIN, UserRole.AUDITOR):
            return cls(True, frozenset(), frozenset())
        employees = {user.email} if user.email else set()
        domains: set[str] = set()
        if user.role is UserRole.MANAGER:
            employees |= {v for k, v in user.grants if k == GrantKind.EMPLOYEE}
            domains |= {v for k, v in user.grants if k == GrantKind.DOMAIN}
        return cls(False, frozenset(employees), frozenset(domains))

    @property
    def empty(self) -> bool:
        return not self.everything and not self.employees and not self.domains

    def restrict(self, query: Node) -> Node | None:
        """`query` limited to this scope; None when the scope holds nothing at all."""
        if self.everything:
            return query
        if self.empty:
            return None
        allowed: list[Node] = []
        for address in sorted(self.employees):
            allowed += [Address("from", address), Address("to", address), Address("owner", address)]
        allowed += [Keyword("domain", domain) for domain in sorted(self.domains)]
        return And((query, Or(tuple(allowed))))

    def condition(
        self, archive_id: ColumnElement[int] | InstrumentedAttribute[int]
    ) -> ColumnElement[bool] | None:
        """A SQL condition on an archive-id column that holds for messages in this scope;
        None when the scope is everything (no condition needed). For filtering many messages
        (the customers directory); `visible` checks a few ids faster."""
        if self.everything:
            return None
        if self.empty:
            return false()
        by_participant = select(Participant.archive_id).where(self._participant_match())
        if not self.employees:
            return archive_id.in_(by_participant)
        # One IN over a UNION (not an OR of two): PostgreSQL can then semi-join.
        by_owner = select(Source.archive_id).where(Source.owner.in_(self.employees))
        return archive_id.in_(union_all(by_participant, by_owner))

    def visible(self, session: Session, archive_ids: Iterable[int]) -> set[int]:
        """Which of `archive_ids` this scope may read (database check). Looks only at these
        messages' participants and sources, by index: milliseconds whatever the archive size."""
        ids = set(archive_ids)
        if self.everything or not ids:
            return ids
        if self.empty:
            return set()
        found: set[int] = set()
        wanted = sorted(ids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found.update(
                session.scalars(
                    select(Participant.archive_id).where(
                        Participant.archive_id.in_(chunk), self._participant_match()
                    )
                )
            )
            if self.employees:
                found.update(
                    session.scalars(
                        select(Source.archive_id).where(
                            Source.archive_id.in_(chunk), Source.owner.in_(self.employees)
                        )
                    )
                )
        return found

    def _participant_match(self) -> ColumnElement[bool]:
        """A participant that puts its message in scope (owners are stored lower-cased)."""
        matches: list[ColumnElement[bool]] = []
        if self.employees:
            matches.append(Participant.address.in_(self.employees))
        for domain in sorted(self.domains):
            matches += [Participant.domain == domain, Participant.domain.endswith("." + domain)]
        return and_(Participant.role.in_(_COUNTED_ROLES), or_(*matches))

    def may_read(self, session: Session, archive_id: int) -> bool:
        return archive_id in self.visible(session, [archive_id])
