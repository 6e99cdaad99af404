"""The one write path, on SQLite and PostgreSQL: outcomes, deduplication, sources, durability."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.blobs import sha256_of
from mailvault.archive.ingest import Outcome
from mailvault.archive.lookup import load, resolve
from mailvault.archive.models import Blob, Direction, Message, Participant, Role, Source, SourceKind
from mailvault.archive.store import Archive
from mailvault.archive.verify import verify
from mailvault.errors import ArchiveError
from mailvault.mime.model import ParseStatus
from tests.mailfactory import make_message


def file_arrival(raw: bytes, path: str = "/import/a.eml", owner: str | None = None) -> Arrival:
    return Arrival(raw, SourceInfo(SourceKind.FILE, path, owner=owner))


def count(archive: Archive, model: type) -> int:
    with archive.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def assert_archive_consistent(archive: Archive) -> None:
    """Every recorded blob is stored intact, every message has a source and its first copy."""
    report = verify(archive.db, archive.blobs)
    assert report.ok, report.findings
    assert not report.findings, report.findings
    with archive.db.reading() as session:
        orphans = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(~Message.archive_id.in_(select(Source.archive_id)))
        )
        assert orphans == 0
        missing_first_copy = session.scalar(
            select(func.count()).select_from(Message).where(~Message.sha256.in_(select(Blob.sha256)))
        )
        assert missing_first_copy == 0


def test_new_message_is_stored_exactly_and_described(archive: Archive) -> None:
    raw = make_message(
        subject="形式发票 PI-2024-031",
        cc="李娜 <li.na@huaqiang-elec.com.cn>",
        attachments=[("PI-2024-031.pdf", b"%PDF-1.4 " + bytes(range(256)), "application/pdf")],
    )
    result = archive.ingestor.ingest(file_arrival(raw, owner="Zhang.Wei@huaqiang-elec.com.cn"))
    assert result.outcome is Outcome.NEW
    assert result.parse_status is ParseStatus.OK
    assert archive.blobs.get(result.sha256) == raw
    assert result.sha256 == sha256_of(raw)

    record = load(archive.db, result.archive_id)
    assert record.message.subject == "形式发票 PI-2024-031"
    assert record.message.direction == Direction.OUTBOUND
    assert record.message.attachment_count == 1
    assert record.attachments[0].filename == "PI-2024-031.pdf"
    roles = {(p.role, p.address) for p in record.participants}
    assert (Role.FROM.value, "zhang.wei@huaqiang-elec.com.cn") in roles
    assert (Role.CC.value, "li.na@huaqiang-elec.com.cn") in roles
    assert {p.domain for p in record.participants} == {"huaqiang-elec.com.cn", "kunde.de"}
    assert record.sources[0].owner == "zhang.wei@huaqiang-elec.com.cn"
    assert_archive_consistent(archive)


def test_same_bytes_are_stored_once_and_reimport_adds_nothing(archive: Archive) -> None:
    raw = make_message()
    first = archive.ingestor.ingest(file_arrival(raw, "/a.eml"))
    again = archive.ingestor.ingest(file_arrival(raw, "/a.eml"))
    elsewhere = archive.ingestor.ingest(file_arrival(raw, "/backup/a.eml"))
    assert (first.outcome, again.outcome, elsewhere.outcome) == (
        Outcome.NEW,
        Outcome.KNOWN,
        Outcome.DUPLICATE,
    )
    assert first.archive_id == again.archive_id == elsewhere.archive_id
    assert (count(archive, Message), count(archive, Blob), count(archive, Source)) == (1, 1, 2)
    assert_archive_consistent(archive)


def test_journaled_copy_and_mailbox_copy_are_one_message_with_two_sources(archive: Archive) -> None:
    sent_copy = make_message(message_id="<q-031@huaqiang-elec.com.cn>", to="hans@kunde.de")
    journaled = (
        b"Received: from mx.huaqiang-elec.com.cn by gateway; Tue, 4 Mar 2025 05:06:08 +0000\r\n"
        b"Return-Path: <zhang.wei@huaqiang-elec.com.cn>\r\n" + sent_copy
    )
    smtp = SourceInfo(
        SourceKind.SMTP,
        "127.0.0.1",
        locator="queue-1",
        envelope_from="zhang.wei@huaqiang-elec.com.cn",
        envelope_to=("hans@kunde.de", "boss@kunde.de"),  # boss was a Bcc: in no header
    )
    imap = SourceInfo(SourceKind.IMAP, "zhang.wei@imap.163.com", folder="已发送", uidvalidity=7, uid=42)
    via_smtp = archive.ingestor.ingest(Arrival(journaled, smtp))
    via_imap = archive.ingestor.ingest(Arrival(sent_copy, imap))
    assert via_smtp.outcome is Outcome.NEW
    assert via_imap.outcome is Outcome.COPY
    assert via_smtp.archive_id == via_imap.archive_id

    record = load(archive.db, via_smtp.archive_id)
    assert {s.kind for s in record.sources} == {"smtp", "imap"}
    assert {b.sha256 for b in record.blobs} == {sha256_of(journaled), sha256_of(sent_copy)}
    envelope = {p.address for p in record.participants if p.role == Role.ENVELOPE_TO.value}
    assert envelope == {"hans@kunde.de", "boss@kunde.de"}
    imap_source = next(s for s in record.sources if s.kind == "imap")
    assert (imap_source.folder, imap_source.uidvalidity, imap_source.uid) == ("已发送", 7, 42)
    # Both exact byte sequences come back.
    assert archive.blobs.get(sha256_of(journaled)) == journaled
    assert archive.blobs.get(sha256_of(sent_copy)) == sent_copy
    assert_archive_consistent(archive)


def test_reused_message_id_does_not_merge_different_messages(archive: Archive) -> None:
    one = make_message(message_id="<same@broken-mailer>", sender="a@kunde.de", body="first\n")
    two = make_message(
        message_id="<same@broken-mailer>", sender="b@other.com", body="second\n", subject="Other"
    )
    results = archive.ingestor.ingest_many([file_arrival(one, "/1"), file_arrival(two, "/2")])
    assert [r.outcome for r in results] == [Outcome.NEW, Outcome.NEW]
    assert results[0].archive_id != results[1].archive_id


def test_messages_without_message_id_are_matched_by_content(archive: Archive) -> None:
    one = make_message(message_id=None, body="Bitte um Angebot.\n")
    same_with_other_headers = b"X-Forwarded-By: gateway\r\n" + one
    different = make_message(message_id=None, body="Ganz anderer Text.\n")
    results = archive.ingestor.ingest_many(
        [
            file_arrival(one, "/1"),
            file_arrival(same_with_other_headers, "/2"),
            file_arrival(different, "/3"),
        ]
    )
    assert [r.outcome for r in results] == [Outcome.NEW, Outcome.COPY, Outcome.NEW]
    assert results[0].archive_id == results[1].archive_id != results[2].archive_id


def test_unparseable_message_is_stored_raw_and_flagged(archive: Archive) -> None:
    garbage = b"\x00\x01\x02\xff not a message at all \xfe"
    result = archive.ingestor.ingest(file_arrival(garbage, "/junk"))
    assert result.outcome is Outcome.NEW
    assert result.parse_status is ParseStatus.FAILED
    assert result.flagged
    assert archive.blobs.get(result.sha256) == garbage
    record = load(archive.db, result.archive_id)
    assert record.message.parse_status == "failed"
    assert "no header fields" in record.message.parse_problems
    assert_archive_consistent(archive)


def test_blob_stored_before_a_crash_is_recorded_when_the_source_replays(archive: Archive) -> None:
    raw = make_message()
    # A crash after the blob was made durable but before its rows were committed:
    archive.blobs.put(sha256_of(raw), raw)
    assert count(archive, Message) == 0
    report = verify(archive.db, archive.blobs)
    assert [f.problem.value for f in report.findings] == ["unrecorded"]
    assert report.ok  # nothing is lost: the source still has it and replays
    result = archive.ingestor.ingest(file_arrival(raw))
    assert result.outcome is Outcome.NEW
    assert_archive_consistent(archive)


def test_batch_with_internal_duplicates(archive: Archive) -> None:
    raw = make_message()
    other = make_message(subject="second")
    results = archive.ingestor.ingest_many(
        [
            file_arrival(raw, "/x"),
            file_arrival(raw, "/y"),
            file_arrival(other, "/z"),
            file_arrival(raw, "/x"),
        ]
    )
    assert [r.outcome for r in results] == [
        Outcome.NEW,
        Outcome.DUPLICATE,
        Outcome.NEW,
        Outcome.KNOWN,
    ]
    assert (count(archive, Message), count(archive, Blob), count(archive, Source)) == (2, 2, 3)


def test_direction_from_company_domains(archive: Archive) -> None:
    inbound = make_message(sender="hans@kunde.de", to="zhang.wei@huaqiang-elec.com.cn")
    internal = make_message(sender="li.na@huaqiang-elec.com.cn", to="wang.fang@sz.huaqiang-elec.com.cn")
    results = archive.ingestor.ingest_many([file_arrival(inbound, "/i"), file_arrival(internal, "/n")])
    directions = [load(archive.db, r.archive_id).message.direction for r in results]
    assert directions == [Direction.INBOUND.value, Direction.INTERNAL.value]


def test_lookup_by_id_hash_prefix_and_message_id(archive: Archive) -> None:
    raw = make_message(message_id="<find-me@huaqiang-elec.com.cn>")
    result = archive.ingestor.ingest(file_arrival(raw))
    for text in (
        str(result.archive_id),
        result.sha256,
        result.sha256[:10],
        "<find-me@huaqiang-elec.com.cn>",
    ):
        assert resolve(archive.db, text).archive_id == result.archive_id


def test_participants_are_not_duplicated_by_repeated_addresses(archive: Archive) -> None:
    raw = make_message(to="hans@kunde.de, Hans <hans@kunde.de>, hans@kunde.de")
    result = archive.ingestor.ingest(file_arrival(raw))
    with archive.db.reading() as session:
        rows = session.execute(
            select(Participant.address, Participant.name).where(
                Participant.archive_id == result.archive_id, Participant.role == "to"
            )
        ).all()
    assert sorted(rows) == [("hans@kunde.de", ""), ("hans@kunde.de", "Hans")]


def test_a_blob_file_gone_before_its_row_is_written_is_refused_then_written_again(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retention purge may unlink a file that put_many found present and skipped; recording a
    row for a file that is not there would lose the message, so the batch fails and is retried."""
    raw = make_message(subject="Angebot 2019", message_id="<gone@kunde.de>")
    real_put_many = archive.blobs.put_many
    monkeypatch.setattr(archive.blobs, "put_many", lambda blobs: {sha: len(b) for sha, b in blobs.items()})
    with pytest.raises(ArchiveError, match="vanished while archiving"):
        archive.ingestor.ingest(file_arrival(raw))
    assert count(archive, Message) == 0
    assert count(archive, Source) == 0

    monkeypatch.setattr(archive.blobs, "put_many", real_put_many)
    result = archive.ingestor.ingest(file_arrival(raw))  # the source's retry
    assert result.outcome is Outcome.NEW
    assert archive.blobs.get(result.sha256) == raw
    assert_archive_consistent(archive)
