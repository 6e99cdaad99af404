"""Registered accounts: encrypted passwords, syncs on an interval (`mailvault sync`, `serve`),
accounts stopped on a rejected password, no secret in any log."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import func, select

from mailvault.archive.models import ImapAccount, Message
from mailvault.archive.store import Archive
from mailvault.config import Settings
from tests.imap.cli import mailvault, write_config
from tests.imap.dovecot import PASSWORD, Dovecot
from tests.imap.test_import import numbered
from tests.servers import free_port


def _add(
    config: Path, dovecot: Dovecot, user: str, password_file: Path, *more: str
) -> subprocess.CompletedProcess[str]:
    return mailvault(
        config,
        "accounts",
        "add",
        "--host",
        "127.0.0.1",
        "--port",
        str(dovecot.port),
        "--plain",
        "--user",
        user,
        "--owner",
        f"{user}@huaqiang-elec.com.cn",
        "--password-file",
        str(password_file),
        *more,
        check=False,
    )


def _messages(settings: Settings) -> int:
    with Archive(settings) as archive, archive.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def test_a_registered_account_is_synced_with_its_encrypted_password(
    dovecot: Dovecot, settings: Settings, tmp_path: Path
) -> None:
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [numbered(n) for n in range(4)])
    config = write_config(settings, tmp_path, '[log]\nlevel = "DEBUG"\n')
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")

    added = _add(config, dovecot, user, password_file, "--interval", "600")
    assert added.returncode == 0, added.stderr
    with Archive(settings) as archive, archive.db.reading() as session:
        secret = session.scalars(select(ImapAccount.secret)).one()
    assert secret is not None
    assert PASSWORD not in secret
    key_file = settings.archive.data_dir / "secrets" / "imap.key"
    assert key_file.stat().st_mode & 0o777 == 0o600

    synced = mailvault(config, "accounts", "sync")
    assert _messages(settings) == 4
    for output in (added.stderr, synced.stderr, synced.stdout):
        assert PASSWORD not in output  # DEBUG logging included

    [listed] = json.loads(mailvault(config, "accounts", "list", "--json").stdout)
    assert (listed["registered"], listed["interval_seconds"], listed["messages"]) == (True, 600, 4)

    mailvault(config, "accounts", "remove", listed["name"])
    with Archive(settings) as archive, archive.db.reading() as session:
        account = session.scalars(select(ImapAccount)).one()
        assert (account.registered, account.secret) == (False, None)
    assert _messages(settings) == 4  # removing an account keeps its mail


def test_a_wrong_password_is_refused_when_adding(
    dovecot: Dovecot, settings: Settings, tmp_path: Path
) -> None:
    user = dovecot.add_user()
    config = write_config(settings, tmp_path)
    password_file = tmp_path / "password"
    password_file.write_text("wrong\n")
    result = _add(config, dovecot, user, password_file)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "rejected the login" in line


def test_sync_once_syncs_due_accounts_and_stops_one_whose_password_is_rejected(
    dovecot: Dovecot, settings: Settings, tmp_path: Path
) -> None:
    good, bad = dovecot.add_user(), dovecot.add_user()
    dovecot.deliver(good, "INBOX", [numbered(1)])
    config = write_config(settings, tmp_path)
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)
    assert _add(config, dovecot, good, password_file).returncode == 0
    assert _add(config, dovecot, bad, password_file).returncode == 0
    # The password changes at the provider (the employee changed it): stored one is now wrong.
    wrong = tmp_path / "wrong"
    wrong.write_text("changed")
    mailvault(config, "accounts", "passwd", f"{bad}@127.0.0.1", "--password-file", str(wrong))

    first = mailvault(config, "sync", "--once", check=False)
    assert first.returncode == 2
    assert _messages(settings) == 1
    listed = {a["name"]: a for a in json.loads(mailvault(config, "accounts", "list", "--json").stdout)}
    assert listed[f"{bad}@127.0.0.1"]["stopped"] is True
    assert listed[f"{good}@127.0.0.1"]["stopped"] is False

    second = mailvault(config, "sync", "--once")  # nothing due, the stopped one is left alone
    assert second.stdout == ""

    mailvault(config, "accounts", "passwd", f"{bad}@127.0.0.1", "--password-file", str(password_file))
    listed = {a["name"]: a for a in json.loads(mailvault(config, "accounts", "list", "--json").stdout)}
    assert listed[f"{bad}@127.0.0.1"]["stopped"] is False


def test_serve_syncs_registered_accounts(dovecot: Dovecot, settings: Settings, tmp_path: Path) -> None:
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [numbered(n) for n in range(3)])
    web_port = free_port()
    smtp = f'[smtp]\nlisteners = [{{ address = "127.0.0.1", port = {free_port()} }}]\n'
    config = write_config(settings, tmp_path, smtp + f"[web]\nport = {web_port}\n")
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)
    assert _add(config, dovecot, user, password_file).returncode == 0

    serve = subprocess.Popen(
        [sys.executable, "-m", "mailvault", "--config", str(config), "serve"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _messages(settings) < 3 and time.monotonic() < deadline and serve.poll() is None:
            time.sleep(0.2)
        assert _messages(settings) == 3, "serve did not sync the registered account"
        assert _web_answers(web_port, deadline), "serve did not start the web app"
    finally:
        serve.send_signal(signal.SIGTERM)
        _, errors = serve.communicate(timeout=60)
    assert serve.returncode == 0, errors


def _web_answers(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as page:
                return page.status == 200 and b"mailvault" in page.read()
        except OSError:
            time.sleep(0.2)
    return False
