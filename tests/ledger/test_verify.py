"""The ledger check: an intact archive verifies, and every kind of tampering is named."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from mailvault.archive.arrival import utcnow
from mailvault.archive.models import Source
from mailvault.archive.store import Archive
from mailvault.archive.verify import Problem as BlobProblem
from mailvault.archive.verify import verify as verify_blobs
from mailvault.errors import MailvaultError
from mailvault.ledger import chain
from mailvault.ledger.chain import EntryKind, Seal
from mailvault.ledger.verify import Checkpoint, Problem, parse_checkpoint, verify_ledger
from tests.ledger import tamper
from tests.ledger.conftest import fill


def head(archive: Archive) -> chain.Head:
    with archive.db.reading() as session:
        return chain.head(session)


@pytest.mark.parametrize("chunk", [1000, 2])
def test_intact_archive_verifies(vault: Archive, chunk: int) -> None:
    fill(vault)
    report = verify_ledger(vault.db, chunk=chunk)
    assert report.findings == []
    assert report.ok
    assert report.first_broken is None
    assert report.entries == 6
    assert report.head == head(vault)


def test_changed_payload_is_the_first_broken_link(vault: Archive) -> None:
    fill(vault)
    original = tamper.payload(vault.db, 2)
    tamper.set_payload(vault.db, 2, original.replace("Quotation 1", "Quotation 9"))
    report = verify_ledger(vault.db, chunk=2)
    first = report.first_broken
    assert first is not None
    assert (first.seq, first.problem) == (2, Problem.HASH)
    assert first.text.startswith("ledger entry 2 (arrival smtp 127.0.0.1 of message 2): hash does not match")
    # The message row no longer agrees with the forged entry either.
    assert any(f.problem is Problem.DIFFERS and "subject" in f.text for f in report.findings)


def test_rehashed_entry_breaks_the_next_link(vault: Archive) -> None:
    fill(vault)
    tamper.set_payload(vault.db, 2, tamper.payload(vault.db, 2).replace("Quotation 1", "Quotation 9"))
    with vault.db.reading() as session:
        entry = chain.entries(session, 1, 1)[0]
        forged = chain.entry_hash(entry.seq, entry.kind, entry.ref, entry.prev_hash, entry.payload)
    tamper.execute(vault.db, "UPDATE ledger_entries SET entry_hash = :h WHERE seq = 2", h=forged)
    report = verify_ledger(vault.db)
    links = [f for f in report.findings if f.problem is Problem.LINK]
    assert [f.seq for f in links] == [3]
    assert "does not link to entry 2" in links[0].text
    # Entry 2 now hashes right, but the message row still says "Quotation 1": it is named first.
    assert report.first_broken is not None
    assert (report.first_broken.seq, report.first_broken.problem) == (2, Problem.DIFFERS)


def test_missing_entry_is_a_gap(vault: Archive) -> None:
    fill(vault)
    tamper.allow_changes(vault.db, "ledger_entries")
    tamper.execute(vault.db, "DELETE FROM ledger_entries WHERE seq = 5")
    report = verify_ledger(vault.db)
    assert report.first_broken is not None
    assert (report.first_broken.seq, report.first_broken.problem) == (5, Problem.GAP)
    assert "ledger entries 5 are missing" in report.first_broken.text
    # The audit event entry 5 sealed is now unknown to the ledger.
    assert any(f.problem is Problem.UNSEALED and f.text.startswith("audit event 1 ") for f in report.findings)


def test_changed_source_row_is_named(vault: Archive) -> None:
    fill(vault)
    with vault.db.reading() as session:
        key = session.scalars(select(Source.source_key).where(Source.kind == "file")).one()
    tamper.execute(vault.db, "UPDATE sources SET owner = 'mallory@x.cn' WHERE source_key = :k", k=key)
    report = verify_ledger(vault.db)
    assert [f.text for f in report.findings] == [
        f"sources row {key} differs from ledger entry 4 (arrival file /import/a.eml of message 1): owner"
    ]
    assert report.first_broken is not None
    assert report.first_broken.seq == 4


def test_changed_message_row_is_named(vault: Archive) -> None:
    fill(vault)
    tamper.execute(vault.db, "UPDATE messages SET subject = 'nothing to see' WHERE archive_id = 3")
    report = verify_ledger(vault.db)
    assert [(f.problem, f.seq) for f in report.findings] == [(Problem.DIFFERS, 3)]
    assert report.findings[0].text.startswith("message 3 differs from ledger entry 3 (arrival smtp")
    assert report.findings[0].text.endswith(": subject")


def test_row_inserted_behind_the_ledger_is_not_in_it(vault: Archive) -> None:
    fill(vault)
    with vault.db.reading() as session:
        copy = session.scalars(select(Source).where(Source.archive_id == 2)).one()
    tamper.execute(
        vault.db,
        "INSERT INTO sources (source_key, archive_id, sha256, kind, origin, folder, owner, flags, detail, "
        "arrived_at) VALUES (:key, 2, :sha, 'imap', 'boss@mail', 'INBOX', 'boss@x.cn', '', '{}', :at)",
        key="f" * 64,
        sha=copy.sha256,
        at=utcnow(),
    )
    report = verify_ledger(vault.db)
    assert [f.text for f in report.findings] == [
        f"sources row {'f' * 64} (arrival imap boss@mail of message 2) is not in the ledger"
    ]
    assert report.findings[0].problem is Problem.UNSEALED


def test_message_inserted_behind_the_ledger_is_not_in_it(vault: Archive) -> None:
    fill(vault)
    tamper.execute(
        vault.db,
        "INSERT INTO messages (sha256, size, dedup_key, subject, sender_addr, sender_name, direction, "
        "reference_ids, attachment_count, parse_status, parse_problems, archived_at) VALUES "
        "(:sha, 10, :sha, 'planted', '', '', 'unknown', '', 0, 'ok', '', :at)",
        sha="e" * 64,
        at=utcnow(),
    )
    report = verify_ledger(vault.db)
    assert [f.text for f in report.findings] == ["message 4 ('planted') is not in the ledger"]


def test_deleted_audit_event_is_named(vault: Archive) -> None:
    fill(vault)
    tamper.allow_changes(vault.db, "audit_events")
    assert tamper.execute(vault.db, "DELETE FROM audit_events WHERE event_id = 2") == 1
    report = verify_ledger(vault.db)
    assert len(report.findings) == 1
    finding = report.findings[0]
    assert (finding.problem, finding.seq) == (Problem.VANISHED, 6)
    assert finding.text.startswith(
        "audit event 2 sealed by ledger entry 6 (audit event 2: view-message by li.na"
    )
    assert report.first_broken == finding


def test_changed_audit_event_is_named(vault: Archive) -> None:
    fill(vault)
    tamper.allow_changes(vault.db, "audit_events")
    tamper.execute(vault.db, "UPDATE audit_events SET username = 'nobody' WHERE event_id = 1")
    report = verify_ledger(vault.db)
    assert [f.text for f in report.findings] == ["audit event 1 differs from ledger entry 5: username"]


def test_vanished_rows_are_found_unless_purged(vault: Archive) -> None:
    results = fill(vault)
    gone = results[2]
    for table in ("sources", "blobs", "participants", "attachments", "messages"):
        tamper.execute(vault.db, f"DELETE FROM {table} WHERE archive_id = :a", a=gone.archive_id)  # noqa: S608
    report = verify_ledger(vault.db)
    vanished = sorted(f.text.split(" sealed by")[0] for f in report.findings if f.problem is Problem.VANISHED)
    with vault.db.reading() as session:
        key = session.execute(text("SELECT ref FROM ledger_entries WHERE seq = 3")).scalar_one()
    assert vanished == sorted(
        [f"sources row {key}", f"message {gone.archive_id}", f"stored copy {gone.sha256} (blobs row)"]
    )
    assert all(f.seq == 3 for f in report.findings)

    # The retention purge seals what it deletes: then the absence is accounted for.
    purge = {
        "archive_id": gone.archive_id,
        "sha256s": [gone.sha256],
        "source_keys": [key],
        "rule": "two years",
        "by": "retention",
        "purged_at": utcnow().isoformat(),
    }
    with vault.db.writing() as session:
        chain.append(session, [Seal(EntryKind.PURGE, str(gone.archive_id), purge)])
    assert verify_ledger(vault.db).ok


def test_consistent_rewrite_passes_the_chain_but_not_a_checkpoint(vault: Archive) -> None:
    fill(vault)
    before = head(vault)
    kept = Checkpoint(before.seq, before.entry_hash, "printed")
    # The forger changes a row, changes its entry to match, and re-hashes the rest of the chain.
    tamper.execute(vault.db, "UPDATE messages SET subject = 'harmless' WHERE archive_id = 2")
    forged = json.loads(tamper.payload(vault.db, 2))
    forged["message"]["subject"] = "harmless"
    tamper.set_payload(vault.db, 2, chain.canonical(forged))
    tamper.rehash_from(vault.db, 2)

    assert verify_ledger(vault.db).ok  # consistent: only something kept outside can tell
    report = verify_ledger(vault.db, checkpoints=[kept])
    assert not report.ok
    assert [f.problem for f in report.findings] == [Problem.CHECKPOINT]
    assert report.findings[0].text.startswith(
        f"checkpoint {before.seq}:{before.entry_hash} (printed) does not hold"
    )

    # A checkpoint of a longer chain than there is: the chain was cut short.
    report = verify_ledger(vault.db, checkpoints=[Checkpoint(99, "a" * 64)])
    assert "the chain has no entry 99 (it ends at 6)" in report.findings[0].text


def test_changed_blob_file_is_named(vault: Archive) -> None:
    results = fill(vault)
    path = vault.blobs.path_of(results[1].sha256)
    path.chmod(0o600)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    report = verify_blobs(vault.db, vault.blobs)
    assert [(f.sha256, f.problem) for f in report.findings] in (
        [(results[1].sha256, BlobProblem.MISMATCH)],
        [(results[1].sha256, BlobProblem.DAMAGED)],  # a flipped bit in zstd framing: unreadable
    )


def test_findings_beyond_the_limit_are_counted(vault: Archive) -> None:
    fill(vault)
    tamper.allow_changes(vault.db, "ledger_entries")
    tamper.execute(vault.db, "DELETE FROM ledger_entries")
    report = verify_ledger(vault.db, limit=2, chunk=2)
    assert len(report.findings) == 2
    # 4 sources rows, 2 audit events, 3 messages: 9 unsealed rows, 2 of them listed.
    assert report.omitted[Problem.UNSEALED] == 7
    assert not report.ok


def test_checkpoint_text_is_parsed() -> None:
    sha = "ab" * 32
    assert parse_checkpoint(f"12:{sha}") == [Checkpoint(12, sha)]
    assert parse_checkpoint(
        f"taken 10:00:00 UTC\n    mailvault verify --checkpoint 7:{sha.upper()}\n", "x"
    ) == [Checkpoint(7, sha, "x")]
    with pytest.raises(MailvaultError, match="no checkpoint found"):
        parse_checkpoint("12:abc")
