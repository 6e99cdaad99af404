"""The import journal: mail is secured (fsynced) before a folder's checkpoint moves, archived from
the journal while the download goes on, and never lost or downloaded twice when archiving fails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from mailvault.archive.ingest import Ingestor, IngestResult, Pending
from mailvault.archive.models import ImapFolder
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import ArchiveError, ImapSyncError
from mailvault.imapsync import importer
from mailvault.imapsync.journal import journal_dir
from mailvault.journal.spool import lock_file
from mailvault.journal.state import SUFFIX, segment_bytes
from tests.conftest import make_settings
from tests.imap.cli import mailvault, write_config
from tests.imap.dovecot import PASSWORD, Dovecot
from tests.imap.test_import import imap_uids, message_count, numbered, spec_for, sync
from tests.servers import wait_for_session_to_end


@pytest.fixture(autouse=True)
def _fast_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "BACKOFF_BASE", 0.01)


class Counting:
    """Records, at each secured window, how many secured messages were not archived yet."""

    def __init__(self) -> None:
        self.secured_total = 0
        self.archived_total = 0
        self.lags: list[int] = []
        self.all_secured = threading.Event()
        self.expected = 0

    def planned(self, messages: int) -> None:
        self.expected = messages

    def secured(self, messages: int, size: int) -> None:
        self.secured_total += messages
        self.lags.append(self.secured_total - self.archived_total)
        if self.secured_total >= self.expected:
            self.all_secured.set()

    def archived(self, messages: int) -> None:
        self.archived_total += messages


def checkpoint(settings: Settings) -> int | None:
    with Archive(settings) as archive, archive.db.reading() as session:
        return session.scalar(select(ImapFolder.checkpoint_uid))


def segments(settings: Settings, account: str) -> list[Path]:
    return sorted(journal_dir(settings, account).glob(f"*{SUFFIX}"))


def test_secured_mail_is_archived_by_the_next_run_when_archiving_failed(
    dovecot: Dovecot, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, database_url, imap={"window_messages": 50})
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [numbered(n, size=2_000) for n in range(300)])
    spec = spec_for(user, dovecot.port)
    listener = Counting()

    def archive_is_down(self: Ingestor, pending: Pending) -> list[IngestResult]:
        listener.all_secured.wait(30)  # fail only once the whole mailbox is secured
        raise ArchiveError("cannot store a message: No space left on device (the disk is full)")

    with monkeypatch.context() as patch:
        patch.setattr(Ingestor, "finish", archive_is_down)
        with pytest.raises(ArchiveError, match="disk is full"):
            sync(settings, spec, listener)
    assert listener.all_secured.is_set(), "the failure came before the mailbox was secured"
    assert checkpoint(settings) == 300  # every message secured: the checkpoint moved past all of them
    assert message_count(settings) == 0  # ...though none reached the archive
    assert segments(settings, spec.name), "the secured mail must wait in the journal"
    assert segment_bytes(settings.resolved_imap_journal_dir) > 300 * 2_000  # `mailvault status` shows it

    again = sync(settings, spec)
    assert message_count(settings) == 300
    assert imap_uids(settings) == list(range(1, 301))  # each UID once
    assert again.counts.new == 300  # archived from the journal...
    assert dovecot.bodies_sent(user)[-1] == 0  # ...not downloaded again
    assert segments(settings, spec.name) == []  # an archived journal is removed
    assert segment_bytes(settings.resolved_imap_journal_dir) == 0


def test_downloading_pauses_while_the_archive_is_behind(
    dovecot: Dovecot, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, database_url, imap={"window_messages": 20})
    # Below the configurable minimum on purpose: at most about one window may wait for the archive.
    settings = settings.model_copy(update={"imap": settings.imap.model_copy(update={"journal_backlog": 1})})
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [numbered(n, size=1_000) for n in range(200)])
    original = Ingestor.finish

    def slow_archive(self: Ingestor, pending: Pending) -> list[IngestResult]:
        time.sleep(0.05)  # an archive much slower than the download
        return original(self, pending)

    monkeypatch.setattr(Ingestor, "finish", slow_archive)
    listener = Counting()
    summary = sync(settings, spec_for(user, dovecot.port), listener)
    assert summary.counts.new == 200
    assert listener.secured_total == listener.archived_total == 200
    assert max(listener.lags) <= 20, listener.lags  # never more than the window just secured


def test_one_import_of_an_account_at_a_time(dovecot: Dovecot, settings: Settings) -> None:
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [numbered(1)])
    spec = spec_for(user, dovecot.port)
    directory = journal_dir(settings, spec.name)
    directory.mkdir(parents=True)
    held = lock_file(directory / ".import-lock", "held by the test")
    try:
        with pytest.raises(ImapSyncError, match=f"another import of {spec.name} is running"):
            sync(settings, spec)
    finally:
        held.close()
    assert sync(settings, spec).counts.new == 1


def test_an_import_killed_mid_run_loses_nothing_and_fetches_nothing_twice(
    dovecot: Dovecot, settings: Settings, tmp_path: Path
) -> None:
    count = 1_000
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [numbered(n, size=3_000) for n in range(count)])
    config = write_config(settings, tmp_path, "[imap]\nwindow_messages = 50\n")
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    args = [
        *("import", "imap", "--host", "127.0.0.1", "--port", str(dovecot.port), "--plain"),
        *("--user", user, "--owner", f"{user}@huaqiang-elec.com.cn", "--password-file", str(password)),
    ]
    victim = subprocess.Popen(
        [sys.executable, "-m", "mailvault", "--config", str(config), "--log-level", "ERROR", *args],
        env={"PATH": os.environ["PATH"]},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while (checkpoint(settings) or 0) < 200 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    wait_for_session_to_end(victim.pid)
    secured, archived = checkpoint(settings) or 0, message_count(settings)
    assert 0 < secured < count, "the import must be killed part-way for this test to mean anything"
    deadline = time.monotonic() + 10
    while not dovecot.bodies_sent(user) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server logs the killed session once it notices the disconnection
    sent_before = sum(dovecot.bodies_sent(user))

    rerun = mailvault(config, *args, "--json")
    summary = json.loads(rerun.stdout)
    assert summary["new"] == count - archived  # nothing counted as new twice...
    assert message_count(settings) == count
    assert imap_uids(settings) == list(range(1, count + 1))
    # ...and what it secured was archived from its journal, not downloaded again (nor the window
    # it journaled after its last checkpoint: those are matched to their archived copies).
    downloaded_again = sum(dovecot.bodies_sent(user)) - sent_before
    assert count - secured - 50 <= downloaded_again <= count - secured, (secured, archived)
    assert segments(settings, spec_for(user, dovecot.port).name) == []
