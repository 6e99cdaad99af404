"""What a source hands to ingest: the raw bytes and how they arrived (an Arrival)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mailvault.archive.models import SourceKind


def utcnow() -> datetime:
    """Now as naive UTC, the form every timestamp in the database takes."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """How one copy arrived. `locator` makes the arrival unique within its origin: the offset in
    an mbox file, the SMTP queue id; IMAP arrivals are unique by UIDVALIDITY and UID."""

    kind: SourceKind
    origin: str  # file path, IMAP account (user@host), SMTP client address
    folder: str = ""
    locator: str = ""
    owner: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    flags: str = ""
    envelope_from: str | None = None  # SMTP MAIL FROM ("" is the null sender)
    envelope_to: tuple[str, ...] = ()  # SMTP RCPT TO, or recipients decoded from a journal
    detail: dict[str, Any] = field(default_factory=dict)
    arrived_at: datetime = field(default_factory=utcnow)

    def key(self, sha256: str) -> str:
        """Identity of this arrival: importing the same file or UID again adds nothing."""
        parts = [
            self.kind.value,
            self.origin,
            self.folder,
            str(self.uidvalidity or ""),
            str(self.uid or ""),
            self.locator,
            sha256,
        ]
        return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Arrival:
    raw: bytes
    source: SourceInfo
    # The bytes that carried `raw`, kept as another stored copy of the message: an Exchange
    # journal report around the original, say. The arrival's own bytes are always `raw`.
    wrapper: bytes | None = None
