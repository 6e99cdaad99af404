"""Tables of retention rules and legal holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailvault.archive.models import Base, BigId


class RetentionRule(Base):
    """Mail older than keep_days may be purged; limited to a domain (a participant's) and/or an
    owner (an employee: sender, recipient or mailbox) when those are set. No rule: keep forever."""

    __tablename__ = "retention_rules"

    rule_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    keep_days: Mapped[int] = mapped_column(Integer)
    domain: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(320))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    disabled_by: Mapped[str | None] = mapped_column(String(320))


class LegalHold(Base):
    """Messages that no retention rule may purge while the hold is in force: those matching the
    search query, involving the owner, or involving the customer (address or domain)."""

    __tablename__ = "legal_holds"

    hold_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    query: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str | None] = mapped_column(String(320))
    customer: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(320))
    released_at: Mapped[datetime | None] = mapped_column(DateTime)
    released_by: Mapped[str | None] = mapped_column(String(320))
