"""mbox, Maildir and EML readers through the runner: counts, folders, flags, re-runs, damage."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from mailvault.archive.lookup import load
from mailvault.archive.models import Source
from mailvault.archive.store import Archive
from mailvault.fileimport.eml import EmlReader
from mailvault.fileimport.maildir import MaildirReader
from mailvault.fileimport.mbox import MboxReader
from mailvault.fileimport.reader import Unreadable
from mailvault.fileimport.runner import run_import
from tests.mailfactory import make_message

LIMIT = 10 * 1024 * 1024


def write_mbox(path: Path, raws: list[bytes]) -> None:
    with path.open("wb") as handle:
        for raw in raws:
            handle.write(b"From sender@example.com Mon Jan  1 00:00:00 2024\n")
            handle.write(raw.replace(b"\r\n", b"\n"))
            handle.write(b"\n")


def test_mbox_import_and_rerun(archive: Archive, tmp_path: Path) -> None:
    raws = [make_message(subject=f"PI-{n}", body=f"line {n}\n\nFrom the factory: ok\n") for n in range(25)]
    mbox = tmp_path / "Sent.mbox"
    write_mbox(mbox, raws)
    reader = MboxReader(mbox, owner="zhang.wei@huaqiang-elec.com.cn", max_message_size=LIMIT)
    summary = run_import(archive.ingestor, [reader], batch_size=7, show_progress=False)
    assert (summary.new, summary.failed, summary.flagged) == (25, 0, 0)
    again = run_import(
        archive.ingestor,
        [MboxReader(mbox, owner=None, max_message_size=LIMIT)],
        batch_size=50,
        show_progress=False,
    )
    assert (again.new, again.known, again.messages) == (0, 25, 25)
    with archive.db.reading() as session:
        folders = set(session.scalars(select(Source.folder)))
    assert folders == {"Sent"}
    # The unescaped "From the factory" body line did not split any message.
    assert archive.blobs.get(summary_first_sha(archive)).endswith(b"From the factory: ok\n")


def summary_first_sha(archive: Archive) -> str:
    with archive.db.reading() as session:
        return str(session.scalars(select(Source.sha256).order_by(Source.source_id)).first())


def test_mbox_entries_are_the_exact_bytes_between_separators(tmp_path: Path) -> None:
    mbox = tmp_path / "in.mbox"
    mbox.write_bytes(
        b"From a@x Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n>From escaped\n\n"
        b"From b@x Mon Jan  1 00:00:00 2024\nSubject: two\n\nlast\n"
    )
    entries = list(MboxReader(mbox, owner=None, max_message_size=LIMIT))
    raws = [e.arrival.raw for e in entries]  # type: ignore[union-attr]
    assert raws == [b"Subject: one\n\nbody\n>From escaped\n", b"Subject: two\n\nlast\n"]


def test_oversize_mbox_entry_is_reported_and_the_rest_imported(archive: Archive, tmp_path: Path) -> None:
    mbox = tmp_path / "big.mbox"
    write_mbox(mbox, [make_message(subject="small"), make_message(body="x" * 5000 + "\n"), make_message()])
    summary = run_import(
        archive.ingestor,
        [MboxReader(mbox, owner=None, max_message_size=3000)],
        batch_size=10,
        show_progress=False,
    )
    assert (summary.new, summary.failed) == (2, 1)
    assert "max_message_size" in summary.failures[0][1]


def make_maildir(root: Path, folders: dict[str, list[tuple[str, bytes]]]) -> None:
    for folder, messages in folders.items():
        base = root if folder == "" else root / folder
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        for name, raw in messages:
            (base / name).write_bytes(raw)


def test_maildir_with_chinese_nested_folders_and_flags(archive: Archive, tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    make_maildir(
        root,
        {
            "": [("new/1700000000.1.host", make_message(subject="inbox"))],
            ".&XfJT0ZAB-": [("cur/1700000001.2.host:2,SR", make_message(subject="sent"))],
            ".&UXZO1mWHTvZZOQ-.&XeVPXA-": [("cur/1700000002.3.host:2,", make_message(subject="work"))],
        },
    )
    (root / "tmp" / "incomplete").write_bytes(b"Subject: half-delivered\r\n")
    reader = MaildirReader(root, owner=None, max_message_size=LIMIT)
    summary = run_import(archive.ingestor, [reader], batch_size=10, show_progress=False)
    assert summary.new == 3
    with archive.db.reading() as session:
        rows = {(s.folder, s.flags) for s in session.scalars(select(Source))}
    assert rows == {("INBOX", ""), ("已发送", "\\Seen \\Answered"), ("其他文件夹/工作", "")}

    # A flag change renames the file; it is the same arrival, not a new one.
    old = root / ".&XfJT0ZAB-" / "cur" / "1700000001.2.host:2,SR"
    old.rename(old.with_name("1700000001.2.host:2,FRS"))
    again = run_import(
        archive.ingestor,
        [MaildirReader(root, owner=None, max_message_size=LIMIT)],
        batch_size=10,
        show_progress=False,
    )
    assert (again.new, again.known) == (0, 3)


def test_eml_folder_keeps_truncated_and_corrupt_files_flagged(archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    (folder / "sub").mkdir(parents=True)
    good = make_message(attachments=[("a.pdf", b"%PDF" * 1000, "application/pdf")])
    (folder / "good.eml").write_bytes(good)
    (folder / "sub" / "truncated.eml").write_bytes(good[: len(good) // 2])
    (folder / "corrupt.eml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00 binary")
    (folder / ".hidden").write_bytes(b"Subject: hidden\r\n\r\n")
    summary = run_import(
        archive.ingestor,
        [EmlReader([folder], owner=None, max_message_size=LIMIT)],
        batch_size=10,
        show_progress=False,
    )
    # The truncated file keeps Message-ID, From and Date: another (damaged) copy of good.eml.
    assert (summary.new, summary.copies, summary.flagged, summary.failed) == (2, 1, 2, 0)
    with archive.db.reading() as session:
        sources = {s.origin: s for s in session.scalars(select(Source))}
    corrupt = load(archive.db, sources[str(folder / "corrupt.eml")].archive_id)
    assert corrupt.message.parse_status == "failed"
    assert archive.blobs.get(corrupt.message.sha256) == (folder / "corrupt.eml").read_bytes()
    truncated = sources[str(folder / "sub" / "truncated.eml")]
    assert truncated.archive_id == sources[str(folder / "good.eml")].archive_id
    assert archive.blobs.get(truncated.sha256) == good[: len(good) // 2]


def test_unreadable_file_is_reported_not_fatal(archive: Archive, tmp_path: Path) -> None:
    ok = tmp_path / "ok.eml"
    ok.write_bytes(make_message())
    gone = tmp_path / "gone.eml"
    summary = run_import(
        archive.ingestor,
        [EmlReader([ok, gone], owner=None, max_message_size=LIMIT)],
        batch_size=10,
        show_progress=False,
    )
    assert (summary.new, summary.failed) == (1, 1)
    assert summary.failures[0][0] == str(gone)


def test_a_file_that_is_not_an_mbox_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "single.eml"
    path.write_bytes(make_message())
    items = list(MboxReader(path, owner=None, max_message_size=LIMIT))
    assert len(items) == 1
    assert isinstance(items[0], Unreadable)
    assert "mailvault import eml" in items[0].reason
