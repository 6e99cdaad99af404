"""What a detector finds: the kinds of risk signal and one finding, before it is stored."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

_KEY_LENGTH = 255  # risk_signals.finding_key


class SignalKind(StrEnum):
    FORWARD_TO_PERSONAL = "forward_to_personal"
    BULK_FORWARDING = "bulk_forwarding"
    MASS_DELETION = "mass_deletion"
    PAYMENT_DETAILS = "payment_details"
    PERSONAL_FIRST_CONTACT = "personal_first_contact"


@dataclass(frozen=True, slots=True)
class Finding:
    """One risk signal as a detector reports it. The same evidence always gives the same
    `finding_key`, so a replay (after a crash, or of an overlap window) stores nothing twice."""

    kind: SignalKind
    employee: str  # lower-cased company address (or the IMAP account for a mailbox without owner)
    finding_key: str
    archive_ids: list[int]
    summary: str  # one line, English; the UI renders other languages from kind + detail
    occurred_at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


def finding_key(kind: SignalKind, *parts: object) -> str:
    """`kind:part:part…`, or `kind:` and a SHA-256 of it when that would not fit the column."""
    key = ":".join([kind.value, *(str(p) for p in parts)])
    if len(key) <= _KEY_LENGTH:
        return key
    return f"{kind.value}:sha256:{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}"
