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

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready description, for a journal record that stands for this arrival."""
        return {
            "kind": self.kind.value,
            "origin": self.origin,
            "folder": self.folder,
            "locator": self.locator,
            "owner": self.owner,
            "uidvalidity": self.uidvalidity,
            "uid": self.uid,
            "flags": self.flags,
            "envelope_from": self.envelope_from,
            "envelope_to": list(self.envelope_to),
            "detail": self.detail,
            "arrived_at": self.arrived_at.isoformat(),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SourceInfo:
        """The arrival `as_record` described (the same key, so replaying it adds nothing)."""
        return cls(
            kind=SourceKind(record["kind"]),
            origin=record["origin"],
            folder=record.get("folder", ""),
            locator=record.get("locator", ""),
            owner=record.get("owner"),
            uidvalidity=record.get("uidvalidity"),
            uid=record.get("uid"),
            flags=record.get("flags", ""),
            envelope_from=record.get("envelope_from"),
            envelope_to=tuple(record.get("envelope_to") or ()),
            detail=record.get("detail") or {},
            arrived_at=datetime.fromisoformat(record["arrived_at"]),
        )


@dataclass(frozen=True, slots=True)
class Arrival:
    raw: bytes
    source: SourceInfo
    # The bytes that carried `raw`, kept as another stored copy of the message: an Exchange
    # journal report around the original, say. The arrival's own bytes are always `raw`.
    wrapper: bytes | None = None
