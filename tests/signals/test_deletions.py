"""mass_deletion: locations the IMAP sync found deleted or moved, counted per mailbox."""

from __future__ import annotations

from sqlalchemy import select, update

from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.models import Source, SourceKind, VanishedHow
from mailvault.archive.store import Archive
from mailvault.imapsync.state import record_vanished
from tests.mailfactory import make_message
from tests.signals.build import LI, ZHANG, at, scan_all, signals


def _mailbox(archive: Archive, owner: str, count: int, folder: str = "INBOX") -> dict[int, int]:
    """{archive id: source id} of `count` messages imported from the owner's IMAP folder."""
    origin = f"{owner}@imap.example"
    found = {}
    for uid in range(1, count + 1):
        raw = make_message(
            subject=f"{owner} {folder} {uid}",
            message_id=f"<{uid}.{folder}.{owner}>",
            date=at(uid),
        )
        source = SourceInfo(SourceKind.IMAP, origin, folder=folder, owner=owner, uidvalidity=7, uid=uid)
        archive_id = archive.ingestor.ingest(Arrival(raw, source)).archive_id
        with archive.db.reading() as session:
            found[archive_id] = session.scalars(
                select(Source.source_id).where(Source.archive_id == archive_id, Source.folder == folder)
            ).one()
    return found


def test_mass_deletion_and_moves_in_one_mailbox(archive: Archive) -> None:
    inbox = _mailbox(archive, ZHANG, 8)
    ids = sorted(inbox)
    # Two messages reappear in another folder before the sync notices them gone: moved, not deleted.
    origin = f"{ZHANG}@imap.example"
    for uid, archive_id in enumerate(ids[:2], start=1):
        with archive.db.reading() as session:
            sha = session.scalars(select(Source.sha256).where(Source.archive_id == archive_id)).first()
        assert sha is not None
        archive.ingestor.record_known(
            [
                (
                    SourceInfo(
                        SourceKind.IMAP, origin, folder="Archive", owner=ZHANG, uidvalidity=9, uid=uid
                    ),
                    sha,
                )
            ]
        )
    moved, deleted = record_vanished(archive.db, origin, [inbox[i] for i in ids[:6]], final=True)
    assert (moved, deleted) == (2, 4)

    scan_all(archive)

    [found] = signals(archive, "mass_deletion")
    assert (found.employee, found.archive_ids) == (ZHANG, ids[:6])
    assert (found.detail["count"], found.detail["deleted"], found.detail["moved"]) == (6, 4, 2)
    assert found.detail["folders"] == ["INBOX"]


def test_few_deletions_and_renumbered_folders_are_quiet(archive: Archive) -> None:
    few = _mailbox(archive, LI, 4)
    record_vanished(archive.db, f"{LI}@imap.example", list(few.values()), final=True)  # 4 < 5
    renumbered = _mailbox(archive, ZHANG, 10, folder="Sent")
    # A new UIDVALIDITY ends the folder's epoch (imapsync.state.epoch_for): every location at once.
    with archive.db.writing() as session:
        session.execute(
            update(Source)
            .where(Source.source_id.in_(list(renumbered.values())))
            .values(vanished_at=at(300).replace(tzinfo=None), vanished_how=VanishedHow.RENUMBERED.value)
        )

    result = scan_all(archive)

    assert signals(archive, "mass_deletion") == []
    assert result.found["mass_deletion"] == 0


def test_deletions_noticed_by_later_syncs_join_no_second_signal(archive: Archive) -> None:
    inbox = _mailbox(archive, ZHANG, 12)
    ids = sorted(inbox)
    origin = f"{ZHANG}@imap.example"
    record_vanished(archive.db, origin, [inbox[i] for i in ids[:5]], final=True)
    scan_all(archive)
    record_vanished(archive.db, origin, [inbox[i] for i in ids[5:8]], final=True)  # same window
    second = scan_all(archive)

    assert second.found["mass_deletion"] == 0
    assert [s.archive_ids for s in signals(archive, "mass_deletion")] == [ids[:5]]
