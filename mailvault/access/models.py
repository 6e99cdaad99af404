"""Tables of the people who use the archive. Unlike the archive tables these are not derived
from stored mail: they are the record of who may see what, and of what was seen."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailvault.archive.models import Base, BigId


class UserRole(StrEnum):
    ADMIN = "admin"  # everything: users, imports, all mail
    AUDITOR = "auditor"  # reads all mail and the audit trail, changes nothing
    MANAGER = "manager"  # reads the mail of the employees and domains granted to them
    EMPLOYEE = "employee"  # reads only their own mail


class GrantKind(StrEnum):
    EMPLOYEE = "employee"  # an employee's address: mail they sent, received or held in a mailbox
    DOMAIN = "domain"  # every message with a participant in this domain (or a sub-domain)
    # A departed employee's mail with one customer, handed to a successor: "employee customer",
    # the customer an address or a domain. Given to managers and employees alike.
    HANDOVER = "handover"


class User(Base):
    __tablename__ = "users"

    user_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    email: Mapped[str] = mapped_column(String(320), default="")  # their own mail address, lower-cased
    display_name: Mapped[str] = mapped_column(String(500), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)  # Argon2id, PHC string
    language: Mapped[str | None] = mapped_column(String(8))  # None: the browser's
    created_at: Mapped[datetime] = mapped_column(DateTime)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)


class Grant(Base):
    """What a manager may read beyond their own mail."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("user_id", "kind", "value"),)

    grant_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))  # lower-cased address or domain
    granted_at: Mapped[datetime] = mapped_column(DateTime)
    granted_by: Mapped[str] = mapped_column(String(320))


class WebSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie's token is stored, so a copy of the
    database does not let anyone sign in."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class LoginFailure(Base):
    """A failed sign-in, kept for the rate limit (shared by every web process)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_username_at", "username", "at"),)

    failure_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)


class AuditEvent(Base):
    """One thing a person did with the archive. Append-only: the database refuses UPDATE and
    DELETE on this table (triggers of revision 0004)."""

    __tablename__ = "audit_events"

    event_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)  # UTC
    username: Mapped[str] = mapped_column(String(320), index=True)  # "" before sign-in
    action: Mapped[str] = mapped_column(String(32), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # ok, denied, failed
    target: Mapped[str] = mapped_column(Text, default="")  # message id, thread id, export …
    query: Mapped[str] = mapped_column(Text, default="")  # the search as typed
    address: Mapped[str] = mapped_column(String(64), default="")  # client IP
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    count: Mapped[int] = mapped_column(Integer, default=0)  # results, messages exported …
