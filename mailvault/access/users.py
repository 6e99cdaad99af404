"""Users of the archive: created, listed, disabled and given new passwords (CLI and web alike)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailvault.access.models import Grant, GrantKind, User, UserRole, WebSession
from mailvault.archive.arrival import utcnow
from mailvault.archive.db import Database
from mailvault.errors import MailvaultError

MIN_PASSWORD = 10
_hasher = PasswordHasher()
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,319}$")
_DOMAIN = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z0-9-]{2,}$")


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this when the user does not exist costs as much as a real check, so the
    answer time does not tell which usernames exist. Made on first use: hashing takes 0.25 s."""
    return _hasher.hash("not a password of anyone")


class UserError(MailvaultError):
    """A user cannot be created or changed as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class UserInfo:
    user_id: int
    username: str
    email: str
    display_name: str
    role: UserRole
    language: str | None
    disabled: bool
    grants: tuple[tuple[str, str], ...]  # (kind, value)

    def as_dict(self) -> dict[str, object]:
        return {
            "username": self.username,
            "email": self.email,
            "display_name": self.display_name,
            "role": str(self.role),
            "language": self.language,
            "disabled": self.disabled,
            "grants": [{"kind": k, "value": v} for k, v in self.grants],
        }


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short: use at least {MIN_PASSWORD} characters")


def add_user(
    db: Database,
    username: str,
    password: str,
    role: UserRole,
    *,
    email: str = "",
    display_name: str = "",
) -> UserInfo:
    username = _valid_username(username)
    email = email.strip().lower()
    if role is UserRole.EMPLOYEE and "@" not in email:
        raise UserError("an employee needs --email: their own mail is what they may read")
    check_password_strength(password)
    now = utcnow()
    with db.writing() as session:
        user = User(
            username=username,
            email=email,
            display_name=display_name.strip(),
            role=role.value,
            password_hash=_hasher.hash(password),
            created_at=now,
            password_changed_at=now,
        )
        session.add(user)
        try:
            session.flush()
        except IntegrityError:
            raise UserError(f"a user named {username} exists already") from None
        return _info(user, [])


def list_users(db: Database) -> list[UserInfo]:
    with db.reading() as session:
        users = list(session.scalars(select(User).order_by(User.username)))
        grants = list(session.scalars(select(Grant).order_by(Grant.kind, Grant.value)))
        return [_info(u, [g for g in grants if g.user_id == u.user_id]) for u in users]


def get_user(db: Database, user_id: int) -> UserInfo | None:
    with db.reading() as session:
        user = session.get(User, user_id)
        if user is None:
            return None
        grants = session.scalars(select(Grant).where(Grant.user_id == user_id).order_by(Grant.kind))
        return _info(user, list(grants))


def get_named(db: Database, username: str) -> UserInfo:
    """The user called `username`; UserError when there is none."""
    with db.reading() as session:
        user = _existing(session, username)
        grants = session.scalars(select(Grant).where(Grant.user_id == user.user_id))
        return _info(user, list(grants))


def authenticate(db: Database, username: str, password: str) -> UserInfo | None:
    """The user, when the password is right and the account enabled; None otherwise."""
    username = username.strip().lower()
    with db.writing() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        try:
            _hasher.verify(user.password_hash if user else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled_at is not None:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        grants = session.scalars(select(Grant).where(Grant.user_id == user.user_id))
        return _info(user, list(grants))


def set_password(db: Database, username: str, password: str) -> None:
    """A new password; every session of the user ends."""
    check_password_strength(password)
    with db.writing() as session:
        user = _existing(session, username)
        user.password_hash = _hasher.hash(password)
        user.password_changed_at = utcnow()
        session.execute(delete(WebSession).where(WebSession.user_id == user.user_id))


def set_disabled(db: Database, username: str, disabled: bool) -> None:
    """Disabling ends every session of the user at once; the user's audit trail stays."""
    with db.writing() as session:
        user = _existing(session, username)
        user.disabled_at = utcnow() if disabled else None
        if disabled:
            session.execute(delete(WebSession).where(WebSession.user_id == user.user_id))


def set_language(db: Database, user_id: int, language: str | None) -> None:
    with db.writing() as session:
        user = session.get(User, user_id)
        if user is not None:
            user.language = language


def grant(db: Database, username: str, kind: GrantKind, value: str, *, by: str) -> None:
    value = _grant_value(kind, value)
    with db.writing() as session:
        user = _existing(session, username)
        if user.role != UserRole.MANAGER and not (
            kind is GrantKind.HANDOVER and user.role == UserRole.EMPLOYEE
        ):
            raise UserError(f"{username} is {user.role}: only managers are given grants")
        exists = session.scalars(
            select(Grant).where(Grant.user_id == user.user_id, Grant.kind == kind.value, Grant.value == value)
        ).first()
        if exists is None:
            session.add(
                Grant(user_id=user.user_id, kind=kind.value, value=value, granted_at=utcnow(), granted_by=by)
            )


def revoke(db: Database, username: str, kind: GrantKind, value: str) -> bool:
    value = _grant_value(kind, value)
    with db.writing() as session:
        user = _existing(session, username)
        result = session.execute(
            delete(Grant).where(Grant.user_id == user.user_id, Grant.kind == kind.value, Grant.value == value)
        )
        return bool(getattr(result, "rowcount", 0))


def _grant_value(kind: GrantKind, value: str) -> str:
    value = value.strip().lower().lstrip("@")
    if kind is GrantKind.EMPLOYEE and "@" not in value:
        raise UserError(f"{value!r} is not a mail address: an employee grant names the employee's address")
    if kind is GrantKind.DOMAIN and not _DOMAIN.match(value):
        raise UserError(f"{value!r} is not a domain like example.com")
    if kind is GrantKind.HANDOVER:
        employee, _, customer = value.partition(" ")
        customer = customer.strip().lstrip("@")
        if "@" not in employee or not ("@" in customer or _DOMAIN.match(customer)):
            raise UserError(
                f"{value!r} is not a handover grant: give 'employee@address customer@address-or-domain'"
            )
        value = f"{employee} {customer}"
        if len(value) > 320:
            raise UserError("a handover grant's two addresses together are longer than 320 characters")
    return value


def _valid_username(username: str) -> str:
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise UserError(f"{username!r} cannot be a username: use letters, digits and . _ @ + -")
    return username


def _existing(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise UserError(f"no user is named {username}; see `mailvault users list`")
    return user


def _info(user: User, grants: list[Grant]) -> UserInfo:
    return UserInfo(
        user_id=user.user_id,
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        role=UserRole(user.role),
        language=user.language,
        disabled=user.disabled_at is not None,
        grants=tuple((g.kind, g.value) for g in grants),
    )
