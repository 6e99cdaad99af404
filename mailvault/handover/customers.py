"""Step 3 of a handover: every customer the employee corresponded with.

A customer is an external address (not in a company domain) that took part, in any role but
Reply-To, in the employee's mail; customers are grouped by domain, free-mail domains per address
(a 163.com or gmail.com "domain" is many unrelated people). Ranking is by volume and recency
together: each message weighs 0.5 ** (age in days / 180), so a customer with twenty messages last
month outranks one with fifty three years ago.

A conversation is open when its last message with the customer (internal forwards answer nobody)
is inbound: the customer is waiting for an answer. It is also open when the last message is an
outbound quotation, proforma invoice (PI), order or contract attachment that the customer has not
answered: a deal the successor must chase. Conversations are threads (archive/conversations.py);
the whole thread counts, including colleagues' messages, so a question a colleague answered is not
reported as open.

Computed from the employee's own messages (tens of thousands at most), in a few set queries.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailvault.archive.arrival import utcnow
from mailvault.archive.direction import is_company
from mailvault.archive.models import Attachment, Direction, Message, Participant
from mailvault.handover.mail import COUNTED_ROLES, chunks, message_ids, rows_for

HALF_LIFE_DAYS = 180.0
ATTACHMENTS_SHOWN = 5
# File names of the documents a deal turns on, in English and Chinese.
DEAL_DOCUMENT = re.compile(
    r"quot|offer|proforma|\bp\.?i\b|\bpi[-_ ]?\d|invoice|\bp\.?o\b|\bpo[-_ ]?\d|order|contract|agreement|"
    r"报价|報價|形式发票|形式發票|发票|發票|订单|訂單|合同|合約|协议|協議|采购|採購",
    re.IGNORECASE,
)


class OpenReason:
    AWAITING_REPLY = "awaiting-reply"  # the customer wrote last
    DEAL_NO_FOLLOW_UP = "deal-no-follow-up"  # our quotation/PI/contract went unanswered


@dataclass(slots=True)
class OpenThread:
    thread_key: int  # thread id, or -archive_id for a message on its own
    subject: str
    last_archive_id: int
    last_date: datetime | None
    reason: str
    document: str = ""  # the deal document's file name

    def as_dict(self) -> dict[str, Any]:
        return {
            "thread": self.thread_key,
            "subject": self.subject,
            "last_message": self.last_archive_id,
            "last_date": _iso(self.last_date),
            "reason": self.reason,
            "document": self.document,
        }


@dataclass(slots=True)
class KeyAttachment:
    archive_id: int
    position: int
    filename: str
    size: int
    date: datetime | None
    deal_document: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "message": self.archive_id,
            "position": self.position,
            "filename": self.filename,
            "size": self.size,
            "date": _iso(self.date),
            "deal_document": self.deal_document,
        }


@dataclass(slots=True)
class CustomerContact:
    address: str
    name: str = ""
    messages: int = 0
    first_contact: datetime | None = None
    last_contact: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "name": self.name,
            "messages": self.messages,
            "first_contact": _iso(self.first_contact),
            "last_contact": _iso(self.last_contact),
        }


@dataclass(slots=True)
class Customer:
    """One customer: a company domain, or a single address at a free-mail provider."""

    key: str  # the domain, or the address for free mail
    messages: int = 0
    messages_in: int = 0
    messages_out: int = 0
    first_contact: datetime | None = None
    last_contact: datetime | None = None
    last_direction: str = Direction.UNKNOWN.value
    score: float = 0.0
    contacts: list[CustomerContact] = field(default_factory=list)
    open_threads: list[OpenThread] = field(default_factory=list)
    attachments: list[KeyAttachment] = field(default_factory=list)
    archive_ids: list[int] = field(default_factory=list)

    @property
    def is_address(self) -> bool:
        return "@" in self.key

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer": self.key,
            "messages": self.messages,
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "first_contact": _iso(self.first_contact),
            "last_contact": _iso(self.last_contact),
            "last_direction": self.last_direction,
            "score": round(self.score, 3),
            "contacts": [c.as_dict() for c in self.contacts],
            "open_threads": [t.as_dict() for t in self.open_threads],
            "attachments": [a.as_dict() for a in self.attachments],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


@dataclass(slots=True)
class _Meta:
    archive_id: int
    date: datetime | None
    direction: str
    thread_key: int
    subject: str


def customers_of(
    session: Session,
    employee: str,
    company_domains: Sequence[str],
    free_mail_domains: Sequence[str],
    *,
    personal: Iterable[str] = (),
    now: datetime | None = None,
) -> list[Customer]:
    """The employee's customers, highest ranked first; `personal` are the employee's own private
    addresses (found by the risk signals), which are not customers."""
    now = now or utcnow()
    ids = message_ids(session, employee)
    if not ids:
        return []
    metas = {
        row.archive_id: _Meta(
            row.archive_id,
            row.date,
            row.direction,
            row.thread_id if row.thread_id is not None else -row.archive_id,
            row.subject,
        )
        for row in rows_for(
            session,
            ids,
            Message.archive_id,
            Message.date,
            Message.direction,
            Message.thread_id,
            Message.subject,
        )
    }
    free = {d.lower() for d in free_mail_domains}
    own = {a.lower() for a in personal}
    customers: dict[str, Customer] = {}
    contacts: dict[str, dict[str, CustomerContact]] = defaultdict(dict)
    contact_seen: set[tuple[str, int]] = set()
    customer_seen: set[tuple[str, int]] = set()
    for archive_id, address, name, domain in rows_for(
        session,
        ids,
        Participant.archive_id,
        Participant.address,
        Participant.name,
        Participant.domain,
        where=Participant.role.in_(COUNTED_ROLES),
    ):
        if not address or address in own or is_company(address, company_domains):
            continue
        meta = metas[archive_id]
        if meta.direction == Direction.INTERNAL.value:
            continue
        key = address if domain in free else domain
        customer = customers.setdefault(key, Customer(key))
        contact = contacts[key].setdefault(address, CustomerContact(address))
        if name and not contact.name:
            contact.name = name
        if (address, archive_id) not in contact_seen:
            contact_seen.add((address, archive_id))
            contact.messages += 1
            contact.first_contact = _earliest(contact.first_contact, meta.date)
            contact.last_contact = _latest(contact.last_contact, meta.date)
        if (key, archive_id) in customer_seen:
            continue
        customer_seen.add((key, archive_id))
        customer.archive_ids.append(archive_id)
        _count(customer, meta, now)
    for key, customer in customers.items():
        customer.contacts = sorted(contacts[key].values(), key=lambda c: (-c.messages, c.address))
    _find_open_threads(session, customers.values(), metas, company_domains)
    _find_attachments(session, customers.values(), metas)
    return sorted(customers.values(), key=lambda c: (-c.score, -(c.messages), c.key))


def _count(customer: Customer, meta: _Meta, now: datetime) -> None:
    customer.messages += 1
    if meta.direction == Direction.INBOUND.value:
        customer.messages_in += 1
    elif meta.direction == Direction.OUTBOUND.value:
        customer.messages_out += 1
    customer.first_contact = _earliest(customer.first_contact, meta.date)
    if meta.date is not None and (customer.last_contact is None or meta.date >= customer.last_contact):
        customer.last_contact = meta.date
        customer.last_direction = meta.direction
    age_days = max(0.0, (now - meta.date).total_seconds() / 86400) if meta.date else 10 * 365.0
    customer.score += 0.5 ** (age_days / HALF_LIFE_DAYS)


def _earliest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate < current else current


def _latest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def _find_open_threads(
    session: Session, customers: Iterable[Customer], metas: dict[int, _Meta], company_domains: Sequence[str]
) -> None:
    """For each customer's threads, the whole thread's last non-internal message decides."""
    thread_ids = {m.thread_key for m in metas.values() if m.thread_key > 0}
    members: dict[int, list[_Meta]] = defaultdict(list)
    for chunk in chunks(sorted(thread_ids)):
        for row in session.execute(
            select(
                Message.archive_id, Message.date, Message.direction, Message.thread_id, Message.subject
            ).where(Message.thread_id.in_(chunk))
        ):
            members[row.thread_id].append(
                _Meta(row.archive_id, row.date, row.direction, row.thread_id, row.subject)
            )
    for meta in metas.values():
        if meta.thread_key < 0:
            members[meta.thread_key].append(meta)
    last_by_thread: dict[int, _Meta] = {}
    for key, thread in members.items():
        external = [m for m in thread if m.direction != Direction.INTERNAL.value]
        if external:
            last_by_thread[key] = max(external, key=lambda m: (m.date or datetime.min, m.archive_id))
    deal_documents = _deal_documents(session, [m.archive_id for m in last_by_thread.values()])
    for customer in customers:
        keys = {metas[i].thread_key for i in customer.archive_ids}
        for key in sorted(keys):
            last = last_by_thread.get(key)
            if last is None:
                continue
            if last.direction == Direction.INBOUND.value:
                reason, document = OpenReason.AWAITING_REPLY, ""
            elif last.direction == Direction.OUTBOUND.value and last.archive_id in deal_documents:
                reason, document = OpenReason.DEAL_NO_FOLLOW_UP, deal_documents[last.archive_id]
            else:
                continue
            customer.open_threads.append(
                OpenThread(key, last.subject, last.archive_id, last.date, reason, document)
            )
        customer.open_threads.sort(key=lambda t: t.last_date or datetime.min, reverse=True)


def _deal_documents(session: Session, archive_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for archive_id, filename in rows_for(
        session, archive_ids, Attachment.archive_id, Attachment.filename, where=Attachment.inline.is_(False)
    ):
        if filename and DEAL_DOCUMENT.search(filename):
            found.setdefault(archive_id, filename)
    return found


def _find_attachments(session: Session, customers: Iterable[Customer], metas: dict[int, _Meta]) -> None:
    """Each customer's most important attachments: deal documents first, then the newest."""
    for customer in customers:
        rows = rows_for(
            session,
            customer.archive_ids,
            Attachment.archive_id,
            Attachment.position,
            Attachment.filename,
            Attachment.size,
            where=Attachment.inline.is_(False),
        )
        found = [
            KeyAttachment(
                r.archive_id,
                r.position,
                r.filename,
                r.size,
                metas[r.archive_id].date,
                bool(r.filename and DEAL_DOCUMENT.search(r.filename)),
            )
            for r in rows
        ]
        found.sort(key=lambda a: (a.date or datetime.min, a.archive_id, -a.position), reverse=True)
        ranked = sorted(found, key=lambda a: not a.deal_document)  # stable: newest first within each
        customer.attachments = ranked[:ATTACHMENTS_SHOWN]
