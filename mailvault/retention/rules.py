"""Retention rules: after how many days the purge may delete mail, for all mail or one domain or
owner. No rule: mail is kept forever. A rule is never deleted, only disabled: the record of what
was allowed to be purged, and when, stays."""

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
from mailvault.ledger import payloads
from mailvault.ledger.chain import EntryKind, Seal, append
from mailvault.retention import RetentionError
from mailvault.retention.authority import ADMIN_ONLY, change
from mailvault.retention.match import normal_address, normal_domain
from mailvault.retention.models import RetentionRule

MAX_KEEP_DAYS = 36_500  # 100 years; a longer rule is no rule (mail is kept forever without one)
RULE_FIELDS = (
    "rule_id",
    "name",
    "keep_days",
    "domain",
    "owner",
    "created_at",
    "created_by",
    "disabled_at",
    "disabled_by",
)


@dataclass(frozen=True, slots=True)
class RuleInfo:
    rule_id: int
    name: str
    keep_days: int
    domain: str | None
    owner: str | None
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    disabled_by: str | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def describe(self) -> str:
        """What the rule deletes, in words: 'mail older than 365 days with kunde.de'."""
        scope = [f"with {self.domain}" if self.domain else "", f"of {self.owner}" if self.owner else ""]
        return " ".join([f"mail older than {self.keep_days} days", *[s for s in scope if s]])

    def as_dict(self) -> dict[str, Any]:
        return payloads.of_object(self, RULE_FIELDS)


def add_rule(
    db: Database,
    name: str,
    keep_days: int,
    *,
    domain: str | None = None,
    owner: str | None = None,
    by: str,
) -> RuleInfo:
    """A new rule, in force at the next purge. Only an admin may add one."""
    name = valid_name(name)
    if not 1 <= keep_days <= MAX_KEEP_DAYS:
        raise RetentionError(f"keep_days must be from 1 to {MAX_KEEP_DAYS}, not {keep_days}")
    domain = normal_domain(domain, "the rule's domain") if domain else None
    owner = normal_address(owner, "the rule's owner") if owner else None
    with change(db, by, ADMIN_ONLY, "add a retention rule", Action.RETENTION_CHANGE) as (session, user):
        if session.scalars(select(RetentionRule.rule_id).where(RetentionRule.name == name)).first():
            raise RetentionError(
                f"a retention rule named {name} exists already (disabled rules keep their name)"
            )
        rule = RetentionRule(
            name=name, keep_days=keep_days, domain=domain, owner=owner, created_at=utcnow(), created_by=user
        )
        session.add(rule)
        try:
            session.flush()
        except IntegrityError:
            raise RetentionError(f"a retention rule named {name} exists already") from None
        info = _info(rule)
        _record(session, info, "added", user)
        return info


def disable_rule(db: Database, name: str, *, by: str) -> RuleInfo:
    """Stop a rule from purging anything more; the row stays. Only an admin may disable one."""
    with change(db, by, ADMIN_ONLY, "disable a retention rule", Action.RETENTION_CHANGE) as (session, user):
        rule = session.scalars(select(RetentionRule).where(RetentionRule.name == name.strip())).first()
        if rule is None:
            raise RetentionError(f"no retention rule is named {name}; see `mailvault retention list`")
        if rule.disabled_at is not None:
            raise RetentionError(f"retention rule {rule.name} was disabled already, by {rule.disabled_by}")
        rule.disabled_at = utcnow()
        rule.disabled_by = user
        session.flush()
        info = _info(rule)
        _record(session, info, "disabled", user)
        return info


def list_rules(db: Database, *, include_disabled: bool = True) -> list[RuleInfo]:
    with db.reading() as session:
        return active_rules(session) if not include_disabled else _all(session)


def active_rules(session: Session) -> list[RuleInfo]:
    """The rules in force, oldest first (the order the purge names a message's rule in)."""
    query = select(RetentionRule).where(RetentionRule.disabled_at.is_(None)).order_by(RetentionRule.rule_id)
    return [_info(r) for r in session.scalars(query)]


def _all(session: Session) -> list[RuleInfo]:
    return [_info(r) for r in session.scalars(select(RetentionRule).order_by(RetentionRule.name))]


def _record(session: Session, info: RuleInfo, what: str, user: str) -> None:
    append(session, [Seal(EntryKind.RETENTION, f"{info.rule_id}:{what}", info.as_dict())])
    record_in(
        session,
        address="",
        username=user,
        action=Action.RETENTION_CHANGE,
        target=f"{what} retention rule {info.name}: {info.describe()}",
        detail=info.as_dict(),
    )


def valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200 or any(c.isspace() and c != " " for c in name):
        raise RetentionError(f"{name!r} cannot be a name: use 1 to 200 characters on one line")
    return name


def _info(rule: RetentionRule) -> RuleInfo:
    return RuleInfo(
        rule_id=rule.rule_id,
        name=rule.name,
        keep_days=rule.keep_days,
        domain=rule.domain,
        owner=rule.owner,
        created_at=rule.created_at,
        created_by=rule.created_by,
        disabled_at=rule.disabled_at,
        disabled_by=rule.disabled_by,
    )
