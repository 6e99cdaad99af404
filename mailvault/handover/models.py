"""The record of each handover: who opened it, secured the mailboxes, named the successor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailvault.archive.models import Base, BigId


class Handover(Base):
    __tablename__ = "handovers"

    handover_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    employee: Mapped[str] = mapped_column(String(320), index=True)  # lower-cased address
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    opened_by: Mapped[str] = mapped_column(String(320))
    secured_at: Mapped[datetime | None] = mapped_column(DateTime)
    secured_by: Mapped[str | None] = mapped_column(String(320))
    successor: Mapped[str | None] = mapped_column(String(320))  # username
    granted_at: Mapped[datetime | None] = mapped_column(DateTime)
    granted_by: Mapped[str | None] = mapped_column(String(320))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(320))
    note: Mapped[str] = mapped_column(Text, default="")
