"""`seal_unsealed`: an archive upgraded to schema 0005 gets its earlier rows sealed, once."""

from __future__ import annotations

import json

from sqlalchemy import select

from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.models import SourceKind
from mailvault.archive.store import Archive
from mailvault.ledger.models import LedgerEntry
from mailvault.ledger.seal import count_unsealed, seal_unsealed
from mailvault.ledger.verify import Problem, verify_ledger
from tests.ledger import tamper
from tests.ledger.conftest import fill
from tests.mailfactory import make_message


def forget_the_ledger(archive: Archive) -> None:
    """The archive as it was before revision 0005: rows, and no ledger entries."""
    tamper.allow_changes(archive.db, "ledger_entries")
    tamper.execute(archive.db, "DELETE FROM ledger_entries")


def test_rows_written_before_the_ledger_are_sealed_once(vault: Archive) -> None:
    fill(vault)
    forget_the_ledger(vault)
    before = verify_ledger(vault.db)
    assert {f.problem for f in before.findings} == {Problem.UNSEALED}
    assert len(before.findings) == 9  # 4 arrivals, 2 audit events, 3 messages
    assert count_unsealed(vault.db) == (4, 2)

    # Rows written after the upgrade are sealed as they are written; only the old ones are added.
    vault.ingestor.ingest(
        Arrival(make_message(subject="after the upgrade"), SourceInfo(SourceKind.FILE, "/new"))
    )
    assert seal_unsealed(vault.db, chunk=3) == 6
    report = verify_ledger(vault.db)
    assert report.findings == []
    assert report.entries == 7
    assert count_unsealed(vault.db) == (0, 0)

    with vault.db.reading() as session:
        sealed = [
            (e.kind, json.loads(e.payload))
            for e in session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq))
        ]
    arrivals = [p for kind, p in sealed[1:] if kind == "arrival"]
    # In source_id order; each message with its first arrival only.
    assert [(p["source"]["archive_id"], "message" in p) for p in arrivals] == [
        (1, True),
        (2, True),
        (3, True),
        (1, False),
    ]
    assert [p["event_id"] for kind, p in sealed if kind == "audit"] == [1, 2]

    assert seal_unsealed(vault.db) == 0  # idempotent
    assert verify_ledger(vault.db).entries == 7


def test_sealing_a_sealed_archive_does_nothing(vault: Archive) -> None:
    fill(vault)
    assert seal_unsealed(vault.db) == 0
    assert verify_ledger(vault.db).entries == 6
