"""`mailvault retention`, `holds` and `purge` as an operator types them: the --by user signs in
with their password, and a refusal is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailvault.archive.models import Message
from mailvault.archive.store import Archive
from mailvault.cli import cli
from mailvault.config import Settings
from mailvault.retention import RetentionDenied
from tests.retention.conftest import ADMIN, AUDITOR, LI_NA, PASSWORD, index, put, recent
from tests.test_cli import mailvault

pytestmark = pytest.mark.usefixtures("people")
WRONG = "not the password"


def run(settings: Settings, *args: str, password: str = PASSWORD) -> str:
    """The command's output; its exception, if it failed with one."""
    done = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(settings.archive.data_dir),
            "--database-url",
            settings.archive.resolved_database_url,
            *args,
        ],
        prog_name="mailvault",
        env={"MAILVAULT_USER_PASSWORD": password},
    )
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise done.exception
    assert done.exit_code == 0, done.output
    return done.stdout


def test_rules_holds_and_purge_from_the_command_line(archive: Archive, settings: Settings) -> None:
    old = put(archive, to="hans@kunde.de")
    held = put(archive, to=LI_NA)
    newest = put(archive, date=recent())
    index(settings, archive)

    assert "all mail is kept forever" in run(settings, "retention", "list")
    assert "nothing to purge" in run(settings, "purge", "--by", ADMIN, "--dry-run")
    added = run(settings, "retention", "add", "all 1y", "--keep-days", "365", "--by", ADMIN)
    assert added == "retention rule all 1y added: mail older than 365 days may be purged\n"
    placed = run(settings, "holds", "add", "li.na", "--owner", LI_NA, "--reason", "case 9", "--by", AUDITOR)
    assert placed.startswith("legal hold li.na placed")
    assert "in force" in run(settings, "holds", "list")
    rules = json.loads(run(settings, "retention", "list", "--json"))
    assert [(r["name"], r["keep_days"], r["disabled_at"]) for r in rules] == [("all 1y", 365, None)]

    dry = run(settings, "purge", "--by", ADMIN, "--dry-run")
    assert "rule all 1y (keep 365 days): 2 expired, 1 held, 0 kept for now, would purge 1" in dry
    assert "1 held message(s) spared" in dry
    done = json.loads(run(settings, "purge", "--by", ADMIN, "--yes", "--json"))
    assert (done["purged"], done["held"], done["dry_run"]) == (1, 1, False)
    with archive.db.reading() as session:
        assert set(session.scalars(select(Message.archive_id))) == {held, newest}
    assert old not in {held, newest}

    assert run(settings, "holds", "release", "li.na", "--by", ADMIN) == "legal hold li.na released\n"
    assert (
        run(settings, "retention", "disable", "all 1y", "--by", ADMIN) == "retention rule all 1y disabled\n"
    )
    assert "disabled" in run(settings, "retention", "list")
    assert "released" in run(settings, "holds", "list")


def test_a_wrong_password_is_refused(archive: Archive, settings: Settings) -> None:
    with pytest.raises(RetentionDenied, match="ada could not sign in: wrong password"):
        run(settings, "retention", "add", "r", "--keep-days", "30", "--by", ADMIN, password=WRONG)
    assert "all mail is kept forever" in run(settings, "retention", "list")


def test_refusals_are_one_line(archive: Archive, settings: Settings, tmp_path: Path) -> None:
    url = settings.archive.resolved_database_url
    env = {"MAILVAULT_USER_PASSWORD": PASSWORD}
    done = mailvault(tmp_path, "--database-url", url, "purge", "--by", AUDITOR, "--yes", env=env)
    assert done.returncode == 1
    assert done.stderr.decode() == "mailvault: error: otto is auditor: only admin may purge archived mail\n"
    wrong = mailvault(
        tmp_path,
        "--database-url",
        url,
        "purge",
        "--by",
        ADMIN,
        "--yes",
        env={"MAILVAULT_USER_PASSWORD": WRONG},
    )
    assert wrong.stderr.decode() == (
        "mailvault: error: ada could not sign in: wrong password, or no such enabled user\n"
    )
    unattended = mailvault(tmp_path, "--database-url", url, "purge", "--by", ADMIN, env=env)
    assert unattended.returncode == 2
    assert b"give --yes to purge without a prompt" in unattended.stderr
