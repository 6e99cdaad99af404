"""What a user may read. One rule, applied twice: as a query the search engine adds to every
search (so hits outside it are never even counted), and as a database check on every message,
thread, attachment and download (the authority; the index may lag).

A message is within a user's reach when one of the employees they may read (their own address;
for managers, the employees granted) sent it, received it (To, Cc, Bcc or envelope) or had it in
a mailbox that was imported; or, for a manager granted a domain, when any participant's address
is in that domain or a sub-domain of it; or, for a successor handed a departed employee's
customer, when that employee was involved (as above) and the customer (an address, or an address
in the domain) took part. Reply-To alone does not count: anyone can write one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, union_all
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
    handovers: frozenset[tuple[str, str]] = frozenset()  # (employee, customer address or domain)

    @classmethod
    def of(cls, user: UserInfo) -> Scope:
        if user.role in (UserRole.ADMIN, UserRole.AUDITOR):
            return cls(True, frozenset(), frozenset())
        employees = {user.email} if user.email else set()
        domains: set[str] = set()
        if user.role is UserRole.MANAGER:
            employees |= {v for k, v in user.grants if k == GrantKind.EMPLOYEE}
            domains |= {v for k, v in user.grants if k == GrantKind.DOMAIN}
        handovers = {_pair(v) for k, v in user.grants if k == GrantKind.HANDOVER}
        return cls(False, frozenset(employees), frozenset(domains), frozenset(handovers))

    @property
    def empty(self) -> bool:
        return not self.everything and not self.employees and not self.domains and not self.handovers

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
        for employee, customer in sorted(self.handovers):
            involved = Or((Address("from", employee), Address("to", employee), Address("owner", employee)))
            if "@" in customer:
                party: Node = Or((Address("from", customer), Address("to", customer)))
            else:
                party = Keyword("domain", customer)
            allowed.append(And((involved, party)))
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
        # One IN over a UNION (not an OR of several): PostgreSQL can then semi-join.
        parts: list[Any] = []
        if self.employees or self.domains:
            parts.append(select(Participant.archive_id).where(self._participant_match()))
        if self.employees:
            parts.append(select(Source.archive_id).where(Source.owner.in_(self.employees)))
        for employee, customer in sorted(self.handovers):
            parts.append(_handed_over(employee, customer))
        return archive_id.in_(union_all(*parts)) if len(parts) > 1 else archive_id.in_(parts[0])

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
            if self.employees or self.domains:
                found.update(
                    session.scalars(
                        select(Participant.archive_id).where(
                            Participant.archive_id.in_(chunk), self._participant_match()
                        )
                    )
                )
            for employee, customer in sorted(self.handovers):
                found.update(
                    session.scalars(
                        select(Participant.archive_id).where(
                            Participant.archive_id.in_(chunk),
                            Participant.archive_id.in_(_handed_over(employee, customer)),
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


def _pair(value: str) -> tuple[str, str]:
    employee, _, customer = value.partition(" ")
    return employee, customer


def _handed_over(employee: str, customer: str) -> Select[Any]:
    """Messages the customer took part in that the employee was involved in (sent, received, held)."""
    counted = Participant.role.in_(_COUNTED_ROLES)
    if "@" in customer:
        party = Participant.address == customer
    else:
        party = or_(Participant.domain == customer, Participant.domain.endswith("." + customer))
    by_employee = select(Participant.archive_id).where(counted, Participant.address == employee)
    held_by_employee = select(Source.archive_id).where(Source.owner == employee)
    return select(Participant.archive_id).where(
        counted,
        party,
        or_(Participant.archive_id.in_(by_employee), Participant.archive_id.in_(held_by_employee)),
    )
