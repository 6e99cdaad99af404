"""`mailvault import imap` against a real Dovecot: every folder, resumable, nothing twice,
deletions and moves recorded, clear failures."""

from __future__ import annotations

import asyncio
import imaplib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailvault.archive.models import ImapAccount, ImapFolder, Message, Source, SourceKind
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.fileimport.maildir import MaildirReader
from mailvault.fileimport.mbox import MboxReader
from mailvault.fileimport.runner import run_import
from mailvault.imapsync import client, importer
from mailvault.imapsync.client import ImapAuthError, ImapConnectionError, ImapSession, ImapThrottled
from mailvault.imapsync.importer import AccountSync, SyncSummary
from mailvault.imapsync.responses import FetchItem
from mailvault.imapsync.state import AccountSpec
from tests.conftest import make_settings
from tests.imap.cli import mailvault, write_config
from tests.imap.dovecot import PASSWORD, Dovecot
from tests.imap.proxy import CuttingProxy, UnsafeLoginProxy
from tests.index.agreement import assert_index_agrees, hits
from tests.mailfactory import make_message, raw_message


def spec_for(user: str, port: int) -> AccountSpec:
    return AccountSpec("127.0.0.1", port, "plain", user, owner=f"{user}@huaqiang-elec.com.cn", connections=2)


def sync(settings: Settings, spec: AccountSpec, listener: importer.Listener | None = None) -> SyncSummary:
    with Archive(settings) as archive:
        return asyncio.run(AccountSync(archive, settings, spec, PASSWORD, listener).run())


def numbered(n: int, size: int = 0) -> bytes:
    return make_message(
        subject=f"订单 order {n}", message_id=f"<order{n}@kunde.de>", body=f"number {n}\n" + "x" * size
    )


def chinese_mail() -> list[bytes]:
    """Charsets Chinese mail really arrives in, labelled right and wrong."""
    return [
        raw_message(
            b"From: =?GBK?B?1cXOsA==?= <zhang.wei@huaqiang-elec.com.cn>\nTo: a@kunde.de\nSubject: GBK\n"
            b"Message-ID: <gbk@x>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=GBK",
            "深圳华强电子报价单".encode("gbk"),
        ),
        raw_message(
            b"From: b@kunde.de\nTo: a@kunde.de\nSubject: GB18030\nMessage-ID: <gb18030@x>\n"
            b"MIME-Version: 1.0\nContent-Type: text/plain; charset=GB18030",
            "㐀 形容词 付款到账".encode("gb18030"),
        ),
        raw_message(
            b"From: c@kunde.tw\nTo: a@kunde.de\nSubject: Big5\nMessage-ID: <big5@x>\nMIME-Version: 1.0\n"
            b"Content-Type: text/plain; charset=big5",
            "華強電子樣品".encode("big5"),
        ),
        raw_message(  # labelled GB2312, written in GBK (镕 is outside GB2312)
            b"From: d@kunde.de\nTo: a@kunde.de\nSubject: mislabelled\nMessage-ID: <mis@x>\n"
            b"MIME-Version: 1.0\nContent-Type: text/plain; charset=gb2312",
            "朱镕基 合同".encode("gbk"),
        ),
    ]


def imap_uids(settings: Settings) -> list[int]:
    return sorted(s.uid for s in imap_sources(settings) if s.uid is not None)


def imap_sources(settings: Settings) -> list[Source]:
    with Archive(settings) as archive, archive.db.reading() as session:
        return list(session.scalars(select(Source).where(Source.kind == SourceKind.IMAP.value)))


def message_count(settings: Settings) -> int:
    with Archive(settings) as archive, archive.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


@pytest.fixture(autouse=True)
def _fast_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "BACKOFF_BASE", 0.01)


def test_every_folder_is_imported_once_and_later_mail_incrementally(
    dovecot: Dovecot, settings: Settings
) -> None:
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", chinese_mail(), seen=False)
    dovecot.deliver(user, "已发送", [numbered(n) for n in range(3)])
    dovecot.deliver(user, "其他文件夹/工作", [numbered(n) for n in range(3, 5)])
    dovecot.deliver(user, "Trash", [numbered(5)])
    dovecot.deliver(user, "Junk", [numbered(6)])
    spec = spec_for(user, dovecot.port)

    first = sync(settings, spec)
    assert (first.counts.new, first.counts.failed, first.folders) == (11, 0, 5)
    assert not first.incomplete
    folders = {s.folder for s in imap_sources(settings)}
    assert folders == {"INBOX", "已发送", "其他文件夹/工作", "Trash", "Junk"}
    assert {s.owner for s in imap_sources(settings)} == {spec.owner.lower()}
    # Read-only: the import marked nothing as read.
    flags = dovecot.doveadm("fetch", "-u", user, "flags", "mailbox", "INBOX")
    assert "\\Seen" not in flags

    again = sync(settings, spec)
    assert again.counts.messages == 0

    dovecot.deliver(user, "INBOX", [numbered(7), numbered(8)])
    later = sync(settings, spec)
    assert (later.counts.new, later.counts.messages) == (2, 2)
    assert len(imap_sources(settings)) == 13

    with Archive(settings) as archive:
        assert_index_agrees(settings, archive)
    for word in ("报价单", "付款到账", "朱镕基", "样品"):
        assert hits(settings, word) == 1, word
    assert hits(settings, "华强电子") == 2  # GBK, and Big5's 華強電子 folded to simplified
    assert hits(settings, "folder:已发送") == 3


def test_a_cut_connection_resumes_after_the_last_durable_window(dovecot: Dovecot, settings: Settings) -> None:
    user = dovecot.add_user()
    messages = [numbered(n, size=8_000) for n in range(300)]
    dovecot.deliver(user, "INBOX", messages)
    proxy = CuttingProxy(dovecot.port, cut_after=1_200_000, cuts=2)
    try:
        summary = sync(settings, spec_for(user, proxy.port))
    finally:
        proxy.close()
    assert proxy.cut == 2, "the connection was never cut: nothing was tested"
    assert (summary.counts.new, summary.counts.known, summary.counts.failed) == (300, 0, 0)
    assert imap_uids(settings) == list(range(1, 301))  # each UID once
    assert message_count(settings) == 300


def test_an_interrupted_import_continues_where_it_stopped(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url, imap={"retries": 0, "window_messages": 50})
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [numbered(n, size=8_000) for n in range(300)])
    proxy = CuttingProxy(dovecot.port, cut_after=1_500_000)
    try:
        with pytest.raises(ImapConnectionError):
            sync(settings, spec_for(user, proxy.port))
    finally:
        proxy.close()
    with Archive(settings) as archive, archive.db.reading() as session:
        checkpoint = session.scalar(select(ImapFolder.checkpoint_uid))
    assert checkpoint is not None
    assert 0 < checkpoint < 300, "the cut must land in the middle of the folder"
    assert message_count(settings) >= checkpoint

    rest = sync(settings, spec_for(user, dovecot.port))
    assert message_count(settings) == 300
    assert imap_uids(settings) == list(range(1, 301))
    assert rest.counts.messages == 300 - checkpoint  # nothing below the checkpoint fetched again


def test_a_uidvalidity_change_starts_a_new_epoch_and_loses_nothing(
    dovecot: Dovecot, settings: Settings
) -> None:
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [numbered(n) for n in range(5)])
    spec = spec_for(user, dovecot.port)
    sync(settings, spec)
    dovecot.doveadm("mailbox", "update", "-u", user, "--uid-validity", "4242", "INBOX")

    after = sync(settings, spec)
    assert after.counts.new == 0
    assert after.counts.duplicates == 5  # the same bytes under their new UIDs: recorded, not stored again
    # ...and not downloaded again: matched by Message-ID, size and INTERNALDATE.
    assert dovecot.bodies_sent(user) == [5, 0]
    sources = imap_sources(settings)
    assert (
        sorted((s.uidvalidity == 4242, s.vanished_how) for s in sources)
        == [(False, "renumbered")] * 5 + [(True, None)] * 5
    )
    with Archive(settings) as archive, archive.db.reading() as session:
        epochs = session.execute(select(ImapFolder.uidvalidity, ImapFolder.ended_at.is_(None))).all()
    assert sorted(epochs, key=lambda e: e[0] == 4242) == [(epochs[0][0], False), (4242, True)]
    assert message_count(settings) == 5


def test_deleted_and_moved_messages_are_recorded_and_stay_readable(
    dovecot: Dovecot, settings: Settings, tmp_path: Path
) -> None:
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [numbered(n) for n in range(6)])
    dovecot.folder(user, "Archive")
    spec = spec_for(user, dovecot.port)
    sync(settings, spec)
    dovecot.doveadm("expunge", "-u", user, "mailbox", "INBOX", "uid", "1:2")
    dovecot.doveadm("move", "-u", user, "Archive", "mailbox", "INBOX", "uid", "3")

    summary = sync(settings, spec)
    assert (summary.deleted, summary.moved) == (2, 1)
    assert (summary.counts.duplicates, dovecot.bodies_sent(user)[-1]) == (1, 0)  # the move: not downloaded
    vanished = {s.uid: (s.vanished_how, s.moved_to) for s in imap_sources(settings) if s.vanished_at}
    assert vanished == {1: ("deleted", None), 2: ("deleted", None), 3: ("moved", "Archive")}
    with Archive(settings) as archive:
        assert message_count(settings) == 6
        for source in imap_sources(settings):
            assert archive.blobs.get(source.sha256)  # every copy still readable

    config = write_config(settings, tmp_path)
    report = mailvault(config, "report", "deletions", "--owner", spec.owner, "--json")
    rows = json.loads(report.stdout)
    assert sorted((r["uid"], r["how"], r["moved_to"]) for r in rows) == [
        (1, "deleted", None),
        (2, "deleted", None),
        (3, "moved", "Archive"),
    ]
    assert sync(settings, spec).deleted == 0  # recorded once


def test_a_wrong_password_stops_with_one_line(dovecot: Dovecot, settings: Settings, tmp_path: Path) -> None:
    user = dovecot.add_user()
    with pytest.raises(ImapAuthError), Archive(settings) as archive:
        asyncio.run(AccountSync(archive, settings, spec_for(user, dovecot.port), "wrong").run())
    with Archive(settings) as archive, archive.db.reading() as session:
        account = session.scalars(select(ImapAccount)).one()
        assert account.stopped_at is not None
        assert account.last_error is not None

    password_file = tmp_path / "password"
    password_file.write_text("wrong\n")
    result = mailvault(
        write_config(settings, tmp_path, '[log]\nlevel = "WARNING"\n'),
        "import",
        "imap",
        "--host",
        "127.0.0.1",
        "--port",
        str(dovecot.port),
        "--plain",
        "--user",
        user,
        "--owner",
        "x@huaqiang-elec.com.cn",
        "--password-file",
        str(password_file),
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mailvault: error: ")
    assert "rejected the login" in lines[0]


def test_the_server_stopped_mid_sync_loses_nothing(
    own_dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url, imap={"retries": 2, "window_messages": 40, "timeout": 5})
    user = own_dovecot.add_user()
    own_dovecot.deliver(user, "INBOX", [numbered(n, size=4_000) for n in range(400)])
    spec = spec_for(user, own_dovecot.port)

    class StopAfterFirstWindow:
        def planned(self, messages: int) -> None:
            pass

        def secured(self, messages: int, size: int) -> None:
            own_dovecot.stop()

        def archived(self, messages: int) -> None:
            pass

    with pytest.raises(ImapConnectionError):
        sync(settings, spec, StopAfterFirstWindow())
    with Archive(settings) as archive, archive.db.reading() as session:
        account = session.scalars(select(ImapAccount)).one()
        assert account.last_error is not None  # the scheduler waits before trying again
        assert account.stopped_at is None  # not a password problem: not stopped
    stored = message_count(settings)
    assert 0 < stored < 400
    own_dovecot.start()
    rest = sync(settings, spec)
    assert message_count(settings) == 400
    assert rest.counts.new == 400 - stored
    assert imap_uids(settings) == list(range(1, 401))


def test_oversize_messages_are_reported_not_stored(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url)
    settings = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"max_message_size": 4096})}
    )
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [numbered(1), numbered(2, size=10_000), numbered(3)])
    summary = sync(settings, spec_for(user, dovecot.port))
    assert (summary.counts.new, summary.counts.failed) == (2, 1)
    [(where, reason)] = summary.counts.failures
    assert where == "INBOX UID 2"
    assert "max_message_size" in reason
    with Archive(settings) as archive, archive.db.reading() as session:
        assert session.scalar(select(ImapFolder.failed)) == {"2": reason}


def test_an_mbox_or_maildir_export_of_the_mailbox_adds_nothing(
    dovecot: Dovecot, settings: Settings, tmp_path: Path
) -> None:
    user = dovecot.add_user()
    messages = [numbered(n) for n in range(5)] + chinese_mail()
    dovecot.deliver(user, "INBOX", messages)
    sync(settings, spec_for(user, dovecot.port))

    mbox = tmp_path / "export.mbox"
    with mbox.open("wb") as out:
        for raw in messages:  # as mail clients export: LF line ends, a blank line after each
            text = raw.replace(b"\r\n", b"\n")
            out.write(
                b"From MAILER-DAEMON Thu Jan  1 00:00:00 2025\n" + text + b"\n" * (1 + (text[-1:] != b"\n"))
            )
    with Archive(settings) as archive:
        from_mbox = run_import(
            archive.ingestor,
            [MboxReader(mbox, owner=None, max_message_size=10**7)],
            batch_size=50,
            show_progress=False,
        )
        from_maildir = run_import(
            archive.ingestor,
            [MaildirReader(dovecot.maildir(user, "INBOX"), owner=None, max_message_size=10**7)],
            batch_size=50,
            show_progress=False,
        )
    assert (from_mbox.messages, from_mbox.new) == (9, 0)
    assert (from_maildir.messages, from_maildir.new) == (9, 0)
    assert message_count(settings) == 9


def test_a_throttled_fetch_is_retried_after_a_pause(
    dovecot: Dovecot, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider's "slow down" (here injected into the real session) is waited out, not fatal."""
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [numbered(n) for n in range(5)])
    real_fetch = ImapSession.fetch
    throttled: list[str] = []

    async def throttled_once(self: ImapSession, uids: Sequence[int], parts: str) -> list[FetchItem]:
        if "BODY.PEEK[]" in parts and not throttled:
            throttled.append(parts)
            self.abort()
            raise ImapThrottled("imap.163.com:993: UID FETCH: the server asks to wait: NO [LIMIT] Too many")
        return await real_fetch(self, uids, parts)

    monkeypatch.setattr(ImapSession, "fetch", throttled_once)
    summary = sync(settings, spec_for(user, dovecot.port))
    assert throttled
    assert (summary.counts.new, summary.counts.failed, summary.incomplete) == (5, 0, [])


@pytest.mark.parametrize(
    ("reply", "throttled"),
    [
        ("NO [LIMIT] Too many concurrent commands", True),
        ("NO [UNAVAILABLE] Service temporarily unavailable", True),
        ("NO Too many simultaneous connections. (Failure)", True),
        ("NO Request frequency limit, please try again later", True),
        ("NO Mailbox doesn't exist: Nope", False),
        ("BAD Error in IMAP command UID FETCH: Invalid messageset", False),
    ],
)
def test_throttling_replies_are_told_from_failures(reply: str, throttled: bool) -> None:
    assert bool(client._THROTTLED.search(reply)) is throttled


def test_the_id_command_opens_folders_at_netease(dovecot: Dovecot, settings: Settings) -> None:
    """163/126/yeah.net refuse SELECT and EXAMINE ("Unsafe Login") until the client sends ID."""
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [numbered(1)])
    proxy = UnsafeLoginProxy(dovecot.port)
    try:
        plain = imaplib.IMAP4("127.0.0.1", proxy.port)
        plain.login(user, PASSWORD)
        status, reply = plain.select("INBOX", readonly=True)
        plain.logout()
        assert (status, proxy.refused) == ("NO", 1), "the proxy must refuse a client without ID"
        assert b"Unsafe Login" in (reply[0] or b"")

        summary = sync(settings, spec_for(user, proxy.port))
    finally:
        proxy.close()
    assert (summary.counts.new, summary.incomplete, proxy.refused) == (1, [], 1)
