"""The purge: deletes only what an enabled rule expired and no hold keeps, only for an admin,
rows, files and index documents alike, sealing each deletion; and it finishes an interrupted run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from mailvault.access.models import AuditEvent
from mailvault.archive.arrival import Arrival, SourceInfo, utcnow
from mailvault.archive.blobs import LocalBlobStore
from mailvault.archive.ingest import PURGED, Outcome
from mailvault.archive.models import Attachment, Blob, Message, Participant, Source, SourceKind, ThreadLink
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import SearchIndexError
from mailvault.index import manage
from mailvault.index.indexer import current_dir, engine_of
from mailvault.ledger.chain import EntryKind, verify_entry
from mailvault.ledger.models import LedgerEntry
from mailvault.ledger.verify import verify_ledger
from mailvault.retention import RetentionDenied, purge
from mailvault.retention.holds import place_hold, release_hold
from mailvault.retention.rules import add_rule, disable_rule
from tests.conftest import make_settings
from tests.index.agreement import hits
from tests.mailfactory import make_message
from tests.retention.conftest import ADMIN, AUDITOR, LI_NA, OLD, index, put, recent

pytestmark = pytest.mark.usefixtures("people")


def archived(archive: Archive) -> set[int]:
    with archive.db.reading() as session:
        return set(session.scalars(select(Message.archive_id)))


def blobs_of(archive: Archive, archive_ids: set[int]) -> dict[int, list[str]]:
    with archive.db.reading() as session:
        found: dict[int, list[str]] = {i: [] for i in archive_ids}
        for sha, archive_id in session.execute(
            select(Blob.sha256, Blob.archive_id).where(Blob.archive_id.in_(archive_ids))
        ):
            found[archive_id].append(sha)
        return found


def purge_entries(archive: Archive) -> dict[int, dict[str, Any]]:
    with archive.db.reading() as session:
        entries = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.PURGE.value)).all()
        assert all(verify_entry(e) for e in entries)
        return {int(e.ref): json.loads(e.payload) for e in entries}


def rows_left(archive: Archive, archive_ids: set[int]) -> int:
    with archive.db.reading() as session:
        return sum(
            session.scalar(select(func.count()).select_from(model).where(model.archive_id.in_(archive_ids)))
            or 0
            for model in (Message, Blob, Participant, Source, Attachment)
        )


def indexed(settings: Settings, archive_ids: set[int]) -> set[int]:
    engine = manage.open_for_search(settings)
    try:
        return engine.contains(sorted(archive_ids))
    finally:
        engine.close()


def test_without_rules_nothing_is_purged(archive: Archive, settings: Settings) -> None:
    ids = {put(archive), put(archive), put(archive, date=None)}
    index(settings, archive)
    report = purge.purge(settings, archive, by=ADMIN)
    assert (report.purged, report.plan.doomed, report.plan.tallies) == ([], {}, {})
    assert archived(archive) == ids
    assert purge_entries(archive) == {}


def test_domain_rule_purges_only_old_mail_with_the_domain(archive: Archive, settings: Settings) -> None:
    old_kunde = put(archive, to="hans@kunde.de", subject="Angebot alt", body="attached\n")
    old_branch = put(archive, to="eva@mail.kunde.de", subject="Lieferung")
    old_other = put(archive, to="bob@brightway.co.uk", subject="Delivery")
    old_lookalike = put(archive, to="x@notkunde.de", subject="Offer")
    new_kunde = put(archive, date=recent(), to="hans@kunde.de", subject="Angebot neu")
    index(settings, archive)
    files = blobs_of(archive, {old_kunde, old_branch})
    add_rule(archive.db, "kunde 1y", 365, domain="kunde.de", by=ADMIN)

    report = purge.purge(settings, archive, by=ADMIN)

    assert sorted(report.purged) == sorted([old_kunde, old_branch])
    assert archived(archive) == {old_other, old_lookalike, new_kunde}
    assert rows_left(archive, {old_kunde, old_branch}) == 0
    for archive_id, hashes in files.items():
        assert hashes, archive_id
        assert not any(archive.blobs.exists(h) for h in hashes), "blob files are deleted"
    assert indexed(settings, {old_kunde, old_branch, new_kunde}) == {new_kunde}
    tally = report.plan.tallies["kunde 1y"]
    assert (tally.expired, tally.held, tally.purged) == (2, 0, 2)

    sealed = purge_entries(archive)
    assert set(sealed) == {old_kunde, old_branch}
    entry = sealed[old_kunde]
    assert set(entry) == {"archive_id", "sha256s", "source_keys", "rule", "by", "purged_at"}
    assert (entry["archive_id"], entry["sha256s"], entry["rule"], entry["by"]) == (
        old_kunde,
        sorted(files[old_kunde]),
        "kunde 1y",
        ADMIN,
    )
    assert [len(key) for key in entry["source_keys"]] == [64]
    assert entry["purged_at"][:4] == str(utcnow().year)

    with archive.db.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).one()
        assert (event.username, event.outcome, event.count, event.target) == (ADMIN, "ok", 2, "purge")
    # The rest of the archive still searches (and the fixture checks index and archive agree).
    assert hits(settings, "Angebot") == 1
    assert hits(settings, "Delivery") == 1


def test_owner_rule_purges_the_employees_old_mail_only(archive: Archive, settings: Settings) -> None:
    sent = put(archive, sender=f"Li Na <{LI_NA}>")
    received = put(archive, to=LI_NA)
    in_mailbox = put(archive, sender="a@kunde.de", to="sales@huaqiang-elec.com.cn", owner=LI_NA)
    replied_to_only = put(archive, extra_headers={"Reply-To": LI_NA})
    someone_else = put(archive)
    hers_recent = put(archive, date=recent(), to=LI_NA)
    index(settings, archive)
    add_rule(archive.db, "li.na 2y", 730, owner=LI_NA, by=ADMIN)

    report = purge.purge(settings, archive, by=ADMIN)

    assert sorted(report.purged) == sorted([sent, received, in_mailbox])
    assert archived(archive) == {replied_to_only, someone_else, hers_recent}


def test_holds_spare_messages_until_released(archive: Archive, settings: Settings) -> None:
    by_owner = put(archive, to=LI_NA)
    by_customer_domain = put(archive, to="hans@sub.kunde.de")
    by_customer_address = put(archive, sender="bob@brightway.co.uk", to="sales@huaqiang-elec.com.cn")
    by_query = put(archive, subject="Invoice 4711 dispute", to="x@other.example")
    by_reply_to = put(archive, to="y@other.example", extra_headers={"Reply-To": "legal@held.example"})
    unheld = put(archive, to="z@other.example", subject="Lunch")
    put(archive, date=recent())  # the newest message, never purged anyway
    index(settings, archive)
    add_rule(archive.db, "all mail 1y", 365, by=ADMIN)
    place_hold(archive.db, "owner", owner=LI_NA, by=AUDITOR)
    place_hold(archive.db, "domain", customer="kunde.de", by=AUDITOR)
    place_hold(archive.db, "address", customer="bob@brightway.co.uk", by=ADMIN)
    place_hold(archive.db, "query", query="subject:invoice dispute", by=ADMIN)
    place_hold(archive.db, "reply-to", customer="held.example", by=ADMIN)

    first = purge.purge(settings, archive, by=ADMIN)

    held = {by_owner, by_customer_domain, by_customer_address, by_query, by_reply_to}
    assert first.purged == [unheld]
    assert held <= archived(archive)
    assert first.plan.held == 5
    assert (first.plan.tallies["all mail 1y"].held, first.plan.tallies["all mail 1y"].purged) == (5, 1)

    release_hold(archive.db, "query", by=AUDITOR)
    release_hold(archive.db, "domain", by=AUDITOR)
    second = purge.purge(settings, archive, by=ADMIN)
    assert sorted(second.purged) == sorted([by_query, by_customer_domain])
    assert second.plan.held == 3
    assert archived(archive) >= {by_owner, by_customer_address, by_reply_to}


def test_a_hold_placed_during_the_run_is_respected(archive: Archive, settings: Settings) -> None:
    """Placed after the plan, before the deleting transaction: that transaction sees it."""
    kept_by_query = put(archive, subject="Contract renewal")
    kept_by_owner = put(archive, to=LI_NA)
    doomed = put(archive)
    put(archive, date=recent())
    index(settings, archive)
    add_rule(archive.db, "all mail 1y", 365, by=ADMIN)

    def place_holds_now(plan: purge.PurgePlan) -> bool:
        assert {kept_by_query, kept_by_owner, doomed} <= set(plan.doomed)
        place_hold(archive.db, "late query", query="contract", by=AUDITOR)
        place_hold(archive.db, "late owner", owner=LI_NA, by=AUDITOR)
        return True

    report = purge.purge(settings, archive, by=ADMIN, confirm=place_holds_now)
    assert report.purged == [doomed]
    assert report.skipped == {kept_by_query: purge.HELD, kept_by_owner: purge.HELD}
    assert {kept_by_query, kept_by_owner} <= archived(archive)


def test_a_rule_disabled_during_the_run_purges_nothing_more(archive: Archive, settings: Settings) -> None:
    ids = {put(archive), put(archive)}
    put(archive, date=recent())
    index(settings, archive)
    add_rule(archive.db, "all mail 1y", 365, by=ADMIN)

    def disable_now(plan: purge.PurgePlan) -> bool:
        disable_rule(archive.db, "all mail 1y", by=ADMIN)
        return True

    report = purge.purge(settings, archive, by=ADMIN, confirm=disable_now)
    assert (report.purged, set(report.skipped)) == ([], ids)
    assert ids <= archived(archive)


@pytest.mark.parametrize("who", [AUDITOR, "li.na", "nobody"])
def test_only_an_enabled_admin_may_purge(archive: Archive, settings: Settings, who: str) -> None:
    old = put(archive)
    put(archive, date=recent())
    index(settings, archive)
    add_rule(archive.db, "all mail 1y", 365, by=ADMIN)
    with pytest.raises(RetentionDenied) as refused:
        purge.purge(settings, archive, by=who)
    assert "\n" not in str(refused.value)
    assert old in archived(archive)
    with archive.db.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).one()
        assert (event.username, event.outcome) == (who, "denied")


def test_dry_run_deletes_nothing(archive: Archive, settings: Settings) -> None:
    old = {put(archive), put(archive)}
    put(archive, date=recent())
    index(settings, archive)
    files = blobs_of(archive, old)
    add_rule(archive.db, "all mail 1y", 365, by=ADMIN)

    report = purge.purge(settings, archive, by=ADMIN, dry_run=True)

    assert set(report.plan.doomed) == old
    assert report.purged == []
    assert old <= archived(archive)
    assert all(archive.blobs.exists(h) for hashes in files.values() for h in hashes)
    assert indexed(settings, old) == old
    assert purge_entries(archive) == {}
    assert purge.plan(settings, archive).doomed == report.plan.doomed
    with archive.db.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).one()
        assert (event.target, event.count, event.detail["would_purge"]) == ("purge: dry run", 0, 2)


def test_purge_refuses_while_the_index_lags(archive: Archive, settings: Settings) -> None:
    old = put(archive)
    put(archive, date=recent())
    index(settings, archive)
    add_rule(archive.db, "all mail 1y", 365, by=ADMIN)
    unindexed = put(archive, subject="Contract under dispute")  # a query hold would need the index
    place_hold(archive.db, "dispute", query="dispute", by=ADMIN)

    with pytest.raises(SearchIndexError, match=r"1 message\(s\) behind the archive"):
        purge.purge(settings, archive, by=ADMIN)
    with pytest.raises(SearchIndexError, match="behind the archive"):
        purge.purge(settings, archive, by=ADMIN, dry_run=True)
    assert {old, unindexed} <= archived(archive)

    index(settings, archive)
    report = purge.purge(settings, archive, by=ADMIN)
    assert report.purged == [old], "once indexed, the hold keeps the new message"


def test_purge_refuses_without_an_index(archive: Archive, settings: Settings) -> None:
    old = put(archive)
    put(archive, date=recent())
    add_rule(archive.db, "all mail 1y", 365, by=ADMIN)
    with pytest.raises(SearchIndexError, match="there is no search index"):
        purge.purge(settings, archive, by=ADMIN)
    assert old in archived(archive)


class Crash(BaseException):
    """Stands for the process being killed: nothing after the point it is raised runs."""


def die(self: LocalBlobStore, sha256s: object) -> set[str]:
    raise Crash


def test_an_interrupted_purge_is_finished_by_the_next(
    archive: Archive, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies right after a batch commits, before any file is deleted."""
    old = {put(archive), put(archive, subject="Second")}
    keep = put(archive, date=recent())
    index(settings, archive)
    files = [h for hashes in blobs_of(archive, old).values() for h in hashes]
    add_rule(archive.db, "all mail 1y", 365, by=ADMIN)

    monkeypatch.setattr(LocalBlobStore, "purge_blobs", die)
    with pytest.raises(Crash):
        purge.purge(settings, archive, by=ADMIN)
    assert archived(archive) == {keep}, "the transaction committed"
    assert all(archive.blobs.exists(h) for h in files), "the crash left the files"
    assert indexed(settings, old) == old, "and the index documents"
    with archive.db.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).one()
        assert (event.outcome, event.count) == ("failed", 2)

    monkeypatch.undo()
    dry = purge.purge(settings, archive, by=ADMIN, dry_run=True)
    assert (dry.recovered_files, dry.recovered_documents) == (len(files), 2)
    assert all(archive.blobs.exists(h) for h in files), "a dry run only reports them"

    finished = purge.purge(settings, archive, by=ADMIN)
    assert (finished.recovered_files, finished.recovered_documents, finished.purged) == (len(files), 2, [])
    assert not any(archive.blobs.exists(h) for h in files)
    assert indexed(settings, old) == set()
    again = purge.purge(settings, archive, by=ADMIN)
    assert (again.recovered_files, again.recovered_documents) == (0, 0)


def test_a_message_whose_blob_another_message_names_is_kept(archive: Archive, settings: Settings) -> None:
    shared = put(archive)
    alone = put(archive)
    other = put(archive, date=recent())
    index(settings, archive)
    [sha] = blobs_of(archive, {shared})[shared]
    with archive.db.writing() as session:  # a later arrival of the same bytes, filed under `other`
        session.execute(
            insert(Source).values(
                source_key="f" * 64,
                archive_id=other,
                sha256=sha,
                kind="file",
                origin="x",
                folder="",
                flags="",
                detail={},
                arrived_at=utcnow(),
            )
        )
    add_rule(archive.db, "all mail 1y", 365, by=ADMIN)

    report = purge.purge(settings, archive, by=ADMIN)

    assert (report.purged, report.skipped) == ([alone], {shared: purge.BLOB_SHARED})
    assert archive.blobs.exists(sha)


def test_the_newest_message_is_kept(archive: Archive, settings: Settings) -> None:
    """SQLite gives the highest archive id again once its row is deleted; it is never purged."""
    older = put(archive)
    newest = put(archive)
    index(settings, archive)
    add_rule(archive.db, "all mail 1y", 365, by=ADMIN)
    report = purge.purge(settings, archive, by=ADMIN)
    assert (report.purged, report.plan.kept) == ([older], {newest: purge.NEWEST})
    assert put(archive, subject="next") > newest


def test_thread_links_only_the_purged_message_had_go(archive: Archive, settings: Settings) -> None:
    parent = put(archive, message_id="<parent@kunde.de>")
    lonely = put(archive, message_id="<lonely@kunde.de>", subject="Other")
    reply = put(
        archive,
        date=recent(),
        subject="Re: Quotation",
        message_id="<reply@kunde.de>",
        extra_headers={"In-Reply-To": "<parent@kunde.de>"},
    )
    index(settings, archive)
    add_rule(archive.db, "all mail 1y", 365, by=ADMIN)
    report = purge.purge(settings, archive, by=ADMIN)
    assert sorted(report.purged) == sorted([parent, lonely])
    with archive.db.reading() as session:
        links = set(session.scalars(select(ThreadLink.message_ref)))
        assert session.get(Message, reply) is not None
    assert links == {"parent@kunde.de", "reply@kunde.de"}, "the reply still refers to its parent"


def test_purge_with_the_tantivy_engine(archive: Archive, tmp_path: Path, database_url: str) -> None:
    pytest.importorskip("tantivy")
    settings = make_settings(tmp_path, database_url, index={"engine": "tantivy"})
    old = put(archive, subject="Angebot")
    held = put(archive, subject="Dispute")
    put(archive, date=recent(), subject="Angebot neu")
    index(settings, archive)
    assert engine_of(current_dir(settings.resolved_index_dir) or tmp_path) == "tantivy"
    add_rule(archive.db, "all mail 1y", 365, by=ADMIN)
    place_hold(archive.db, "dispute", query="dispute", by=ADMIN)
    report = purge.purge(settings, archive, by=ADMIN)
    assert report.purged == [old]
    assert indexed(settings, {old, held}) == {held}
    assert hits(settings, "angebot") == 1


def test_replaying_a_purged_arrival_does_not_bring_the_mail_back(
    archive: Archive, settings: Settings
) -> None:
    raw = make_message(subject="Angebot 2019", to="hans@kunde.de", date=OLD)
    arrival = Arrival(raw, SourceInfo(SourceKind.FILE, "/import/old.mbox", locator="0"))
    doomed = archive.ingestor.ingest(arrival).archive_id
    keep = put(archive, date=recent(), to="hans@kunde.de")
    index(settings, archive)
    add_rule(archive.db, "kunde 1y", 365, domain="kunde.de", by=ADMIN)
    assert purge.purge(settings, archive, by=ADMIN).purged == [doomed]

    again = archive.ingestor.ingest(arrival)  # the same mbox imported once more

    assert (again.outcome, again.archive_id) == (Outcome.KNOWN, PURGED)
    assert archived(archive) == {keep}
    report = verify_ledger(archive.db)
    assert report.ok, report.findings
