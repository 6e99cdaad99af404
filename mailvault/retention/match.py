"""Which messages a retention rule or a legal hold names, as SQL over participants and sources.

An owner is an employee: a message is theirs when they sent or received it (any header or envelope
role but Reply-To) or it came from a mailbox of theirs that was imported. A domain matches its
sub-domains too (kunde.de matches mail.kunde.de). Holds count Reply-To as well: a hold errs on the
side of keeping, a rule on the side of not deleting what merely names someone.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select

from mailvault.archive.models import Participant, Role, Source
from mailvault.retention import RetentionError

RULE_ROLES = tuple(r.value for r in Role if r is not Role.REPLY_TO)  # anyone can write a Reply-To
_DOMAIN = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z0-9-]{2,}$")
_ADDRESS = re.compile(r"^[^@\s]+@(?:[a-z0-9-]+\.)+[a-z0-9-]{2,}$")


def normal_domain(value: str, what: str) -> str:
    domain = value.strip().lower().lstrip("@").rstrip(".")
    if not _DOMAIN.match(domain) or len(domain) > 255:
        raise RetentionError(f"{what} {value!r} is not a domain like example.com")
    return domain


def normal_address(value: str, what: str) -> str:
    address = value.strip().lower()
    if not _ADDRESS.match(address) or len(address) > 320:
        raise RetentionError(f"{what} {value!r} is not a mail address like name@example.com")
    return address


def normal_party(value: str, what: str) -> str:
    """A customer: a mail address, or a domain."""
    return normal_address(value, what) if "@" in value.strip().lstrip("@") else normal_domain(value, what)


def _domain_match(domain: str) -> ColumnElement[bool]:
    return or_(Participant.domain == domain, Participant.domain.endswith("." + domain))


def by_domain(domain: str, *, roles: tuple[str, ...] | None = RULE_ROLES) -> Select[Any]:
    """archive_ids of messages with a participant in `domain` or a sub-domain of it."""
    query = select(Participant.archive_id).where(_domain_match(domain))
    return query.where(Participant.role.in_(roles)) if roles is not None else query


def by_address(address: str, *, roles: tuple[str, ...] | None = RULE_ROLES) -> Select[Any]:
    query = select(Participant.archive_id).where(Participant.address == address)
    return query.where(Participant.role.in_(roles)) if roles is not None else query


def by_owner(owner: str, *, roles: tuple[str, ...] | None = RULE_ROLES) -> list[Select[Any]]:
    """archive_ids of the employee's mail: as a participant, or from a mailbox of theirs."""
    return [by_address(owner, roles=roles), select(Source.archive_id).where(Source.owner == owner)]


def by_party(party: str, *, roles: tuple[str, ...] | None = RULE_ROLES) -> Select[Any]:
    """A customer: an exact address, or everyone in a domain."""
    return by_address(party, roles=roles) if "@" in party else by_domain(party, roles=roles)
