"""Who may change retention and holds or run the purge, and the audit record of each change.

Rules, holds and purges are done on behalf of a named user (the CLI authenticates them first); the
role is checked again inside the write transaction that makes the change, and a refusal is audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailvault.access import audit
from mailvault.access.audit import Action, Outcome
from mailvault.access.models import User, UserRole
from mailvault.archive.db import Database
from mailvault.retention import RetentionDenied

ADMIN_ONLY = frozenset({UserRole.ADMIN})
HOLD_KEEPERS = frozenset({UserRole.ADMIN, UserRole.AUDITOR})  # legal holds serve the auditors too


def check_role(session: Session, username: str, roles: frozenset[UserRole], what: str) -> str:
    """The user's normalised name when they are enabled and hold one of `roles`; RetentionDenied if not."""
    name = username.strip().lower()
    user = session.scalars(select(User).where(User.username == name)).first()
    needed = " or ".join(sorted(r.value for r in roles))
    if user is None or user.disabled_at is not None:
        raise RetentionDenied(
            f"{name or '(nobody)'} is not an enabled mailvault user; to {what} needs {needed}"
        )
    if user.role not in roles:
        raise RetentionDenied(f"{name} is {user.role}: only {needed} may {what}")
    return name


def authorize(db: Database, username: str, roles: frozenset[UserRole], what: str, action: Action) -> str:
    """check_role in a transaction of its own, with the refusal audited."""
    try:
        with db.reading() as session:
            return check_role(session, username, roles, what)
    except RetentionDenied as exc:
        deny(db, username, action, str(exc))
        raise


@contextmanager
def change(
    db: Database, username: str, roles: frozenset[UserRole], what: str, action: Action
) -> Iterator[tuple[Session, str]]:
    """A write transaction on behalf of `username`, who must hold one of `roles`: (session, name)."""
    try:
        with db.writing() as session:
            name = check_role(session, username, roles, what)
            yield session, name
    except RetentionDenied as exc:
        deny(db, username, action, str(exc))
        raise


def deny(db: Database, username: str, action: Action, why: str) -> None:
    audit.record(
        db,
        username=username.strip().lower(),
        action=action,
        address="",
        outcome=Outcome.DENIED,
        target=why[:1000],
    )
