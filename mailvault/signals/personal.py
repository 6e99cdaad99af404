"""personal_first_contact: a customer first corresponding with an employee's personal address.

An employee's personal address is a free-mail address ([signals] free_mail_domains) that either
received company mail the employee forwarded or copied to it (a forward_to_personal signal not
dismissed), or carries exactly the display name the employee's company address carries. A
customer address is an external address that has corresponded with the company (sent or received
company mail) in a message the personal address was not part of. A message between the two (one
wrote it, the other received it) that is the first between them in the archive is a signal; one
per employee, personal address and customer. When a personal address becomes known, the mail it
already took part in is looked at again.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from mailvault.archive.models import Message, Participant
from mailvault.signals.facts import COUNTED_ROLES, Context, MessageFacts, load_facts
from mailvault.signals.finding import Finding, SignalKind, finding_key
from mailvault.signals.models import RiskSignal

REVISIT_LIMIT = 5000  # messages of one newly known personal address looked at again


def known_personal(session: Session, after_signal: int = 0) -> dict[str, str]:
    """{personal address: employee}, from forward_to_personal signals not dismissed."""
    rows = session.execute(
        select(RiskSignal.detail, RiskSignal.employee)
        .where(
            RiskSignal.kind == SignalKind.FORWARD_TO_PERSONAL.value,
            RiskSignal.dismissed_at.is_(None),
            RiskSignal.signal_id > after_signal,
        )
        .order_by(RiskSignal.signal_id)
    )
    found: dict[str, str] = {}
    for detail, employee in rows:
        address = str((detail or {}).get("to", "")).lower()
        if address:
            found.setdefault(address, employee)
    return found


def messages_involving(session: Session, addresses: Sequence[str]) -> list[int]:
    """Messages these addresses took part in, oldest archive id first (at most REVISIT_LIMIT each)."""
    ids: set[int] = set()
    for address in addresses:
        ids.update(
            session.scalars(
                select(Participant.archive_id)
                .where(Participant.address == address, Participant.role.in_(COUNTED_ROLES))
                .distinct()
                .order_by(Participant.archive_id)
                .limit(REVISIT_LIMIT)
            )
        )
    return sorted(ids)


def detect_personal_first_contact(
    ctx: Context, session: Session, batch: list[MessageFacts], known: dict[str, str]
) -> list[Finding]:
    named = _employees_by_name(ctx, session, batch)
    found: list[Finding] = []
    for m in batch:
        personal: dict[str, str] = {}
        for address in m.participants:
            if not ctx.is_free_mail(address):
                continue
            employee = known.get(address) or named.get(m.names.get(address, ""))
            if employee and employee != address:
                personal[address] = employee
        for address, employee in sorted(personal.items()):
            if m.author == address:
                others = m.recipients
            elif address in m.recipients:
                others = {m.author}
            else:
                continue
            for customer in sorted(others):
                if customer == address or customer in personal or customer in known:
                    continue
                if not ctx.is_external(customer) or not _corresponded(session, customer, address, m):
                    continue
                if _earlier_between(session, address, customer, m):
                    continue
                how = "forwarded" if address in known else "name"
                found.append(
                    Finding(
                        kind=SignalKind.PERSONAL_FIRST_CONTACT,
                        employee=employee,
                        finding_key=finding_key(
                            SignalKind.PERSONAL_FIRST_CONTACT, employee, address, customer
                        ),
                        archive_ids=[m.archive_id],
                        summary=f"customer {customer} first corresponded with {address}, "
                        f"a personal address of {employee}",
                        occurred_at=m.when,
                        detail={"personal": address, "customer": customer, "how": how},
                    )
                )
    return found


def revisit(
    ctx: Context, session: Session, addresses: dict[str, str], known: dict[str, str]
) -> list[Finding]:
    """Findings among the mail of personal addresses that have just become known."""
    if not addresses:
        return []
    facts = load_facts(session, messages_involving(session, sorted(addresses)))
    return detect_personal_first_contact(ctx, session, facts, known)


def _employees_by_name(ctx: Context, session: Session, batch: list[MessageFacts]) -> dict[str, str]:
    """{display name: company address carrying it}, for the names free-mail participants carry."""
    names = sorted(
        {m.names[a] for m in batch for a in m.names if ctx.is_free_mail(a) and len(m.names[a]) >= 2}
    )
    found: dict[str, str] = {}
    for start in range(0, len(names), 500):
        rows = session.execute(
            select(Participant.name, Participant.address)
            .where(
                Participant.name.in_(names[start : start + 500]), ctx.company_condition(Participant.domain)
            )
            .distinct()
            .order_by(Participant.name, Participant.address)
        )
        for name, address in rows:
            found.setdefault(name, address)
    return found


def _corresponded(session: Session, customer: str, personal: str, m: MessageFacts) -> bool:
    """Whether `customer` has sent or received company mail without `personal` taking part."""
    p = aliased(Participant)
    with_personal = select(Participant.archive_id).where(Participant.address == personal)
    return (
        session.scalar(
            select(Message.archive_id)
            .join(p, p.archive_id == Message.archive_id)
            .where(
                p.address == customer,
                p.role.in_(COUNTED_ROLES),
                Message.direction.in_(("inbound", "outbound")),
                Message.archive_id != m.archive_id,
                Message.archive_id.not_in(with_personal),
            )
            .limit(1)
        )
        is not None
    )


def _earlier_between(session: Session, a: str, b: str, m: MessageFacts) -> bool:
    """Whether a message between `a` and `b` precedes `m` (by date, then archive id)."""
    pa, pb = aliased(Participant), aliased(Participant)
    when = func.coalesce(Message.date, Message.archived_at)
    return (
        session.scalar(
            select(Message.archive_id)
            .join(pa, pa.archive_id == Message.archive_id)
            .join(pb, pb.archive_id == Message.archive_id)
            .where(
                pa.address == a,
                pb.address == b,
                pa.role.in_(COUNTED_ROLES),
                pb.role.in_(COUNTED_ROLES),
                Message.archive_id != m.archive_id,
                or_(when < m.when, and_(when == m.when, Message.archive_id < m.archive_id)),
            )
            .limit(1)
        )
        is not None
    )
