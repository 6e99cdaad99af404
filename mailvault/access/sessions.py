"""Signed-in browsers and the sign-in rate limit, kept in the database so every web process
(and a restart) sees the same state."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select

from mailvault.access.models import LoginFailure, User, WebSession
from mailvault.access.users import UserInfo, get_user
from mailvault.archive.arrival import utcnow
from mailvault.archive.db import Database

_TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: UserInfo
    csrf_token: str


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_user: int  # failures of one username …
    per_address: int  # … or from one client address …
    window: timedelta  # … within this long refuse further attempts


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(db: Database, user_id: int, address: str, lifetime: timedelta) -> str:
    """A new session; the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.writing() as session:
        session.execute(delete(WebSession).where(WebSession.expires_at < now))
        session.add(
            WebSession(
                token_hash=_hash(token),
                user_id=user_id,
                csrf_token=secrets.token_urlsafe(32),
                address=address,
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
            )
        )
    return token


def find(db: Database, token: str, idle_limit: timedelta) -> SignedIn | None:
    """The session's user, unless it expired, sat idle too long or the user was disabled."""
    if not token:
        return None
    now = utcnow()
    with db.reading() as session:
        row = session.get(WebSession, _hash(token))
        if row is None or row.expires_at <= now or now - row.last_seen_at > idle_limit:
            return None
        user = session.get(User, row.user_id)
        if user is None or user.disabled_at is not None:
            return None
        user_id, csrf, last_seen = row.user_id, row.csrf_token, row.last_seen_at
    if now - last_seen > _TOUCH_EVERY:
        with db.writing() as session:
            touched = session.get(WebSession, _hash(token))
            if touched is not None:
                touched.last_seen_at = now
    info = get_user(db, user_id)
    return SignedIn(info, csrf) if info is not None else None


def end(db: Database, token: str) -> None:
    with db.writing() as session:
        session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))


def refused(db: Database, username: str, address: str, limit: RateLimit) -> bool:
    """Whether sign-in attempts for this username or from this address are paused."""
    since = utcnow() - limit.window
    username = username.strip().lower()
    with db.reading() as session:
        by_user = session.scalar(
            select(func.count()).where(LoginFailure.username == username, LoginFailure.at >= since)
        )
        by_address = session.scalar(
            select(func.count()).where(LoginFailure.address == address, LoginFailure.at >= since)
        )
    return (by_user or 0) >= limit.per_user or (by_address or 0) >= limit.per_address


def failed(db: Database, username: str, address: str, limit: RateLimit) -> None:
    now = utcnow()
    with db.writing() as session:
        session.execute(delete(LoginFailure).where(LoginFailure.at < now - limit.window))
        session.add(LoginFailure(username=username.strip().lower()[:320], address=address, at=now))


def succeeded(db: Database, username: str) -> None:
    with db.writing() as session:
        session.execute(delete(LoginFailure).where(LoginFailure.username == username.strip().lower()))
