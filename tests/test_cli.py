"""The `mailvault` command end to end, as an operator runs it (a real subprocess each time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailvault.cli import cli
from tests.mailfactory import make_message


def mailvault(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
    environ["MAILVAULT_INGEST__PARSE_WORKERS"] = "1"  # the process pool is tested on its own
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mailvault", "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True,
        cwd=tmp_path,
        env=environ,
        check=False,
        timeout=120,
    )


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "a.eml").write_bytes(
        make_message(subject="询价 RFQ", message_id="<rfq-1@kunde.de>", sender="Hans <hans@kunde.de>")
    )
    (folder / "b.eml").write_bytes(make_message(subject="报价 Quotation"))
    return folder


def test_import_show_export_verify(tmp_path: Path, mail_dir: Path) -> None:
    done = mailvault(
        tmp_path, "import", "eml", str(mail_dir), "--json", "--owner", "li.na@huaqiang-elec.com.cn"
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["new"], summary["failed"]) == (2, 0)

    again = mailvault(tmp_path, "import", "eml", str(mail_dir), "--json")
    assert json.loads(again.stdout)["already_imported"] == 2

    shown = mailvault(tmp_path, "show", "<rfq-1@kunde.de>", "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["subject"] == "询价 RFQ"
    assert record["sources"][0]["owner"] == "li.na@huaqiang-elec.com.cn"

    human = mailvault(tmp_path, "show", str(record["archive_id"]))
    assert "询价 RFQ" in human.stdout.decode()

    exported = mailvault(tmp_path, "export", record["sha256"][:12])
    assert exported.stdout == (mail_dir / "a.eml").read_bytes()

    out = tmp_path / "out"
    mailvault(tmp_path, "export", "1", "2", "--dir", str(out))
    assert sorted(p.read_bytes() for p in out.iterdir()) == sorted(p.read_bytes() for p in mail_dir.iterdir())

    verified = mailvault(tmp_path, "verify", "--json")
    assert verified.returncode == 0
    assert json.loads(verified.stdout)["checked"] == 2

    status = json.loads(mailvault(tmp_path, "status", "--json").stdout)
    assert (status["messages"], status["arrivals"]) == (2, {"file": 2})
    assert status["journal_bytes"] == {"smtp": 0, "imap": 0}  # nothing waits to be archived
    for private in (tmp_path / "data", tmp_path / "data" / "mailvault.sqlite3"):
        assert private.stat().st_mode & 0o007 == 0, f"{private} is readable by anyone"


def test_verify_exits_nonzero_when_a_blob_was_altered(tmp_path: Path, mail_dir: Path) -> None:
    mailvault(tmp_path, "import", "eml", str(mail_dir))
    blob = next((tmp_path / "data" / "blobs").rglob("*.zst"))
    blob.chmod(0o600)
    blob.write_bytes(blob.read_bytes()[:-4] + b"\x00\x00\x00\x00")
    done = mailvault(tmp_path, "verify")
    assert done.returncode == 1
    assert b"PROBLEMS FOUND" in done.stdout


def test_export_to_mbox_reimports_as_the_same_messages(tmp_path: Path, mail_dir: Path) -> None:
    mailvault(tmp_path, "import", "eml", str(mail_dir))
    mbox = tmp_path / "out.mbox"
    assert mailvault(tmp_path, "export", "1", "2", "--mbox", str(mbox)).returncode == 0
    again = mailvault(tmp_path, "import", "mbox", str(mbox), "--json")
    summary = json.loads(again.stdout)
    assert summary["new"] == 0
    assert summary["copies"] + summary["duplicates"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "999"], "no archived message matches '999'"),
        (["--database-url", "nonsense://", "status"], "is not a database URL"),
        (
            ["--database-url", "postgresql+psycopg://u@127.0.0.1:1/x", "status"],
            "database unavailable",
        ),
    ],
)
def test_expected_failures_are_one_line_without_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = mailvault(tmp_path, *args)
    assert done.returncode == 1
    err = done.stderr.decode()
    assert message in err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1
    assert errors[0].startswith("mailvault: error: ")


def test_bad_config_names_file_key_and_value(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[archive]\ncompression_level = 99\n")
    done = mailvault(tmp_path, "--config", str(config), "status")
    assert done.returncode == 1
    assert done.stderr.decode() == (
        f"mailvault: error: config file {config}: [archive] compression_level = 99: "
        "Input should be less than or equal to 22\n"
    )


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for command in (
        [],
        ["import"],
        ["import", "mbox"],
        ["import", "maildir"],
        ["import", "eml"],
        ["show"],
        ["export"],
        ["verify"],
        ["status"],
        ["db"],
        ["db", "upgrade"],
        ["db", "current"],
        ["users"],
        ["users", "add"],
        ["users", "grant"],
        ["web"],
    ):
        done = runner.invoke(cli, [*command, "--help"], prog_name="mailvault")
        assert done.exit_code == 0, (command, done.output)
        assert "Usage: mailvault" in done.output
        assert len(done.output.splitlines()) > 3


def test_users_commands(tmp_path: Path) -> None:
    secret = {"MAILVAULT_USER_PASSWORD": "a long password 1"}
    added = mailvault(tmp_path, "users", "add", "Li.Ming", "--role", "manager", "--name", "李明", env=secret)
    assert added.returncode == 0, added.stderr
    assert b"a long password" not in added.stdout + added.stderr
    again = mailvault(tmp_path, "users", "add", "li.ming", "--role", "admin", env=secret)
    assert again.returncode == 1
    assert again.stderr.decode() == "mailvault: error: a user named li.ming exists already\n"
    short = mailvault(
        tmp_path, "users", "add", "x", "--role", "admin", env={"MAILVAULT_USER_PASSWORD": "short"}
    )
    assert b"too short" in short.stderr
    employee = mailvault(tmp_path, "users", "add", "zhang", "--role", "employee", env=secret)
    assert b"an employee needs --email" in employee.stderr
    granted = mailvault(
        tmp_path, "users", "grant", "li.ming", "--employee", "Zhang.Wei@Company.cn", "--domain", "kunde.de"
    )
    assert granted.returncode == 0, granted.stderr
    bad = mailvault(tmp_path, "users", "grant", "li.ming", "--domain", "not a domain")
    assert b"is not a domain" in bad.stderr
    assert mailvault(tmp_path, "users", "disable", "li.ming").returncode == 0
    listed = json.loads(mailvault(tmp_path, "users", "list", "--json").stdout)
    assert listed == [
        {
            "username": "li.ming",
            "email": "",
            "display_name": "李明",
            "role": "manager",
            "language": None,
            "disabled": True,
            "grants": [
                {"kind": "domain", "value": "kunde.de"},
                {"kind": "employee", "value": "zhang.wei@company.cn"},
            ],
        }
    ]
    no_password = mailvault(tmp_path, "users", "passwd", "li.ming")
    assert no_password.returncode == 1
    assert b"no password: give --password-file" in no_password.stderr
