"""Company mail leaving for personal mailboxes: forward_to_personal and bulk_forwarding.

forward_to_personal: a message from a company address (the [archive] company_domains) with a
recipient (To, Cc, Bcc or envelope) in a [signals] free_mail_domains domain, when the message is
a forward (a Fw:/Fwd:/转发:/轉寄: subject, or an attached message/rfc822) or that recipient got it
hidden (Bcc or envelope only), and the free-mail address is not a customer: it never wrote to
the company (a company address in To or Cc) in mail dated before this one. A recipient whose
display name is the sender's own counts as personal even when it has written to the company.
Plain mail to customers on free mail (common in export trade) is never a signal.

bulk_forwarding: one employee forwarding at least [signals] bulk_forward_messages customer
messages to addresses outside the company within [signals] bulk_forward_hours. A forward is of a
customer message when the original it quotes (a From:/发件人: line, or the message its
References name) came from an external address that has written to the company, and it went to
an external address outside that customer's domain (forwarding a customer's mail back to the
customer's own colleagues does not count). One signal per employee per window.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from mailvault.archive.models import Message
from mailvault.signals.facts import (
    Context,
    MessageFacts,
    load_facts,
    quoted_senders,
    same_name,
    wrote_to_company,
)
from mailvault.signals.finding import Finding, SignalKind, finding_key
from mailvault.signals.models import RiskSignal
from mailvault.signals.window import Event, bursts, taken_windows


def detect_forward_to_personal(ctx: Context, session: Session, batch: list[MessageFacts]) -> list[Finding]:
    found: list[Finding] = []
    for m in batch:
        if not ctx.is_company(m.author):
            continue
        hidden = m.hidden_recipients
        candidates = {
            a for a in m.recipients if a != m.author and ctx.is_free_mail(a) and (m.is_forward or a in hidden)
        }
        if not candidates:
            continue
        customers = wrote_to_company(ctx, session, candidates, m.when)
        for address in sorted(candidates):
            if address in customers and not same_name(m.names.get(address, ""), m.author_name):
                continue
            how = [h for h, yes in (("forward", m.is_forward), ("bcc", address in hidden)) if yes]
            verb = "forwarded" if m.is_forward else "copied (hidden)"
            found.append(
                Finding(
                    kind=SignalKind.FORWARD_TO_PERSONAL,
                    employee=m.author,
                    finding_key=finding_key(SignalKind.FORWARD_TO_PERSONAL, m.archive_id, address),
                    archive_ids=[m.archive_id],
                    summary=f"{m.author} {verb} company mail to the personal address {address}",
                    occurred_at=m.when,
                    detail={"to": address, "how": how, "subject": m.subject[:200]},
                )
            )
    return found


def detect_bulk_forwarding(ctx: Context, session: Session, batch: list[MessageFacts]) -> list[Finding]:
    settings = ctx.settings.signals
    span = timedelta(hours=settings.bulk_forward_hours)
    new: defaultdict[str, list[datetime]] = defaultdict(list)
    for m in batch:
        if customer_forward(ctx, session, m) is not None:
            new[m.author].append(m.when)
    found: list[Finding] = []
    for employee, times in sorted(new.items()):
        low, high = min(times) - span, max(times) + span
        ids = session.scalars(
            select(Message.archive_id).where(
                Message.sender_addr == employee,
                or_(
                    Message.date.between(low, high),
                    and_(Message.date.is_(None), Message.archived_at.between(low, high)),
                ),
            )
        ).all()
        events: list[Event] = []
        outside: dict[int, set[str]] = {}
        for m in load_facts(session, list(ids)):
            recipients = customer_forward(ctx, session, m)
            if recipients is not None:
                events.append(Event(m.when, m.archive_id, m.archive_id))
                outside[m.archive_id] = recipients
        taken = taken_windows(
            session.scalars(
                select(RiskSignal.detail).where(
                    RiskSignal.kind == SignalKind.BULK_FORWARDING.value, RiskSignal.employee == employee
                )
            )
        )
        for burst in bursts(
            events, threshold=settings.bulk_forward_messages, hours=settings.bulk_forward_hours, taken=taken
        ):
            ids_in = burst.archive_ids
            to = sorted(set().union(*(outside[i] for i in ids_in)))
            found.append(
                Finding(
                    kind=SignalKind.BULK_FORWARDING,
                    employee=employee,
                    finding_key=finding_key(SignalKind.BULK_FORWARDING, employee, burst.events[0].ref),
                    archive_ids=ids_in,
                    summary=f"{employee} forwarded {len(ids_in)} customer messages outside the company "
                    f"within {settings.bulk_forward_hours:g} h",
                    occurred_at=burst.start,
                    detail={"count": len(ids_in), "to": to[:20], **burst.window_detail()},
                )
            )
    return found


def customer_forward(ctx: Context, session: Session, m: MessageFacts) -> set[str] | None:
    """The recipients outside the company and outside the customer's domain, when `m` is an
    employee forwarding a customer's message there; None when it is not."""
    if not (m.is_forward and ctx.is_company(m.author)):
        return None
    external = {r for r in m.recipients if ctx.is_external(r)}
    if not external:
        return None
    originals = {a for a in quoted_senders(ctx.text(m)) if ctx.is_external(a)}
    if m.references:
        originals.update(
            session.scalars(
                select(Message.sender_addr).where(
                    Message.message_id.in_(m.references[:50]), Message.direction == "inbound"
                )
            )
        )
    customers = wrote_to_company(ctx, session, originals, m.when)
    if not customers:
        return None
    customer_domains = {c.rpartition("@")[2] for c in customers}
    outside = {r for r in external if r.rpartition("@")[2] not in customer_domains}
    return outside or None
