"""Appending to the hash chain. Each entry seals one row (an arrival, an audit event, a purge…)
by committing to its canonical JSON and to the previous entry, in the same transaction that
writes the row: a row the ledger does not know was not written by mailvault.

entry_hash = SHA-256 of "seq\\nkind\\nref\\nprev_hash\\n" followed by the payload's UTF-8 bytes.
The payload is JSON with sorted keys, no spaces and no ASCII escaping, so anyone can recompute a
hash from the stored text alone (`verify_entry` does, and so does the evidence package's
stand-alone checker). Appends are serialised: SQLite writers already hold the database's write
lock (BEGIN IMMEDIATE); on PostgreSQL a transaction-scoped advisory lock orders them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, insert, select, text
from sqlalchemy.orm import Session

from mailvault.archive.arrival import utcnow
from mailvault.ledger.models import LedgerEntry

GENESIS = "0" * 64
_LOCK_KEY = 0x6D76_6C65_6467_6572  # "mvledger": one advisory lock for the chain's head
_ENTRIES: Table = LedgerEntry.__table__  # type: ignore[assignment]


class EntryKind(StrEnum):
    ARRIVAL = "arrival"  # a sources row: these bytes arrived this way (with the message on first arrival)
    AUDIT = "audit"  # an audit_events row
    PURGE = "purge"  # a message deleted by the retention purge: what, by whom, under which rule
    HOLD = "hold"  # a legal hold placed or released
    RETENTION = "retention"  # a retention rule added or disabled
    CHECKPOINT = "checkpoint"  # the chain head was handed outside (mailed, stamped, printed)


@dataclass(frozen=True, slots=True)
class Seal:
    """A row to seal: its kind, its identity, and what it says."""

    kind: EntryKind
    ref: str
    payload: Mapping[str, Any]


def canonical(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot put {type(value).__name__} in a ledger payload")


def entry_hash(seq: int, kind: str, ref: str, prev_hash: str, payload_text: str) -> str:
    digest = hashlib.sha256(f"{seq}\n{kind}\n{ref}\n{prev_hash}\n".encode())
    digest.update(payload_text.encode())
    return digest.hexdigest()


def verify_entry(entry: LedgerEntry) -> bool:
    """Does the entry's hash still match what it says?"""
    return entry.entry_hash == entry_hash(entry.seq, entry.kind, entry.ref, entry.prev_hash, entry.payload)


@dataclass(frozen=True, slots=True)
class Head:
    seq: int  # 0: the chain is empty
    entry_hash: str


def head(session: Session) -> Head:
    row = session.execute(
        select(LedgerEntry.seq, LedgerEntry.entry_hash).order_by(LedgerEntry.seq.desc()).limit(1)
    ).first()
    return Head(row[0], row[1]) if row else Head(0, GENESIS)


def append(session: Session, seals: Sequence[Seal], *, at: datetime | None = None) -> Head:
    """Append `seals` in order, inside the caller's write transaction; returns the new head."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    current = head(session)
    if not seals:
        return current
    when = at or utcnow()
    rows: list[dict[str, Any]] = []
    seq, prev = current.seq, current.entry_hash
    for seal in seals:
        seq += 1
        payload_text = canonical(seal.payload)
        this = entry_hash(seq, seal.kind.value, seal.ref, prev, payload_text)
        rows.append(
            {
                "seq": seq,
                "kind": seal.kind.value,
                "ref": seal.ref,
                "at": when,
                "payload": payload_text,
                "prev_hash": prev,
                "entry_hash": this,
            }
        )
        prev = this
    session.execute(insert(_ENTRIES), rows)
    return Head(seq, prev)


def entries(session: Session, after: int = 0, limit: int = 1000) -> list[LedgerEntry]:
    return list(
        session.scalars(
            select(LedgerEntry).where(LedgerEntry.seq > after).order_by(LedgerEntry.seq).limit(limit)
        )
    )


def sealed_refs(session: Session, kind: EntryKind, refs: Iterable[str]) -> set[str]:
    wanted = sorted(set(refs))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            session.scalars(
                select(LedgerEntry.ref).where(LedgerEntry.kind == kind.value, LedgerEntry.ref.in_(chunk))
            )
        )
    return found
