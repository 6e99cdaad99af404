"""Tables of risk signals: each finding, and how far each detector has looked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailvault.archive.models import Base, BigId


class RiskSignal(Base):
    __tablename__ = "risk_signals"

    signal_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)  # SignalKind
    employee: Mapped[str] = mapped_column(String(320), index=True)  # lower-cased address
    # Detectors replay after a crash: the same finding gives the same key and is not added twice.
    finding_key: Mapped[str] = mapped_column(String(255), unique=True)
    archive_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # the messages behind it
    summary: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # when the employee did it
    found_at: Mapped[datetime] = mapped_column(DateTime)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime)
    dismissed_at: Mapped[datetime | None] = mapped_column(DateTime)
    dismissed_by: Mapped[str | None] = mapped_column(String(320))
    dismiss_reason: Mapped[str | None] = mapped_column(Text)


class DetectorProgress(Base):
    """The last archive id (or source id) a detector has examined."""

    __tablename__ = "detector_progress"

    detector: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
