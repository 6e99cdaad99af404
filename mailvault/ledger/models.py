"""Tables of the ledger. Append-only in the database itself (triggers of revision 0005)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailvault.archive.models import Base, BigId


class LedgerEntry(Base):
    """One link of the chain: entry_hash commits to seq, kind, ref, the payload (canonical JSON of
    the row it seals) and the previous entry's hash. seq has no gaps; the first entry's prev_hash
    is 64 zeros."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("kind", "ref"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))  # EntryKind
    ref: Mapped[str] = mapped_column(String(64))  # the sealed row: source_key, audit event id …
    at: Mapped[datetime] = mapped_column(DateTime)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class LedgerCheckpoint(Base):
    """A chain head handed outside: printed, mailed, or stamped by a time-stamping authority."""

    __tablename__ = "ledger_checkpoints"

    checkpoint_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(320))
    mailed_to: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    tsa_url: Mapped[str] = mapped_column(String(1000), default="")
    tsa_token: Mapped[bytes | None] = mapped_column(LargeBinary)  # DER TimeStampToken
    tsa_time: Mapped[datetime | None] = mapped_column(DateTime)
