"""What an attacker with database access does: switch off the append-only triggers, change
rows, and rewrite ledger entries (even the whole chain, consistently)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from mailvault.archive.db import Database
from mailvault.ledger import chain


def allow_changes(db: Database, table: str) -> None:
    """Switch off a table's append-only guard: `ledger_entries` (0005) or `audit_events` (0004)."""
    with db.writing() as session:
        if db.is_sqlite:
            for verb in ("update", "delete"):
                session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
        else:
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))


def execute(db: Database, sql: str, **params: Any) -> int:
    with db.writing() as session:
        return int(session.execute(text(sql), params).rowcount)  # type: ignore[attr-defined]


def payload(db: Database, seq: int) -> str:
    with db.reading() as session:
        return str(
            session.execute(
                text("SELECT payload FROM ledger_entries WHERE seq = :seq"), {"seq": seq}
            ).scalar_one()
        )


def set_payload(db: Database, seq: int, new: str) -> None:
    """Change one entry's payload and nothing else (a clumsy forger)."""
    allow_changes(db, "ledger_entries")
    execute(db, "UPDATE ledger_entries SET payload = :p WHERE seq = :seq", p=new, seq=seq)


def rehash_from(db: Database, seq: int) -> None:
    """Recompute every hash from `seq` on, so that the chain is consistent again (a careful forger)."""
    allow_changes(db, "ledger_entries")
    with db.writing() as session:
        rows = session.execute(
            text("SELECT seq, kind, ref, payload FROM ledger_entries WHERE seq >= :seq ORDER BY seq"),
            {"seq": seq},
        ).all()
        prev = session.execute(
            text("SELECT entry_hash FROM ledger_entries WHERE seq = :seq"), {"seq": seq - 1}
        ).scalar()
        prev = prev or chain.GENESIS
        for number, kind, ref, body in rows:
            new = chain.entry_hash(number, kind, ref, prev, body)
            session.execute(
                text("UPDATE ledger_entries SET prev_hash = :prev, entry_hash = :new WHERE seq = :seq"),
                {"prev": prev, "new": new, "seq": number},
            )
            prev = new


def entry_seq(db: Database, kind: str, ref: str) -> int:
    with db.reading() as session:
        return int(
            session.execute(
                text("SELECT seq FROM ledger_entries WHERE kind = :kind AND ref = :ref"),
                {"kind": kind, "ref": ref},
            ).scalar_one()
        )
