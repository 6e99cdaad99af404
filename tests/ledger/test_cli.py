"""`mailvault verify` and `mailvault ledger …` as an operator runs them (a real subprocess each).

Each run starts Python and imports mailvault (a few seconds), so these tests take 10-40 s; they run
on SQLite only, as tests/test_cli.py does: the ledger checks themselves run on both databases in
test_verify.py, test_seal.py and test_checkpoint.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailvault.archive.db import Database
from mailvault.cli import cli
from tests.ledger import tamper
from tests.mailfactory import make_message


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'mailvault.sqlite3'}"


@pytest.fixture
def run(tmp_path: Path, database_url: str) -> object:
    def mailvault(*args: str) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
        environ["MAILVAULT_INGEST__PARSE_WORKERS"] = "1"
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "mailvault",
                "--data-dir",
                str(tmp_path / "data"),
                "--database-url",
                database_url,
                *args,
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=environ,
            check=False,
            timeout=120,
        )

    return mailvault


def imported(tmp_path: Path, run: object) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "a.eml").write_bytes(make_message(subject="询价 RFQ", sender="Hans <hans@kunde.de>"))
    (folder / "b.eml").write_bytes(make_message(subject="报价 Quotation"))
    done = run("import", "eml", str(folder), "--owner", "li.na@huaqiang-elec.com.cn")  # type: ignore[operator]
    assert done.returncode == 0, done.stderr


def test_verify_checks_blobs_and_ledger(tmp_path: Path, database_url: str, run: object) -> None:
    imported(tmp_path, run)
    head = run("ledger", "head")  # type: ignore[operator]
    assert head.returncode == 0, head.stderr
    seq, entry_hash = head.stdout.strip().split(":")
    assert seq == "2"

    done = run("verify")  # type: ignore[operator]
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().startswith(
        f"checked 2 stored messages and 2 ledger entries (head 2:{entry_hash})"
    )
    assert done.stdout.strip().endswith(": intact")

    kept = tmp_path / "checkpoint.txt"
    taken = run("ledger", "checkpoint", "--print-only")  # type: ignore[operator]
    assert taken.returncode == 0, taken.stderr
    kept.write_text(taken.stdout)
    assert "recorded as checkpoint 1" in taken.stderr
    listed = run("ledger", "checkpoints")  # type: ignore[operator]
    assert f"2:{entry_hash}" in listed.stdout

    # The attacker changes who owned the mail, and their careful rewrite of the ledger covers it.
    db = Database(database_url)
    try:
        tamper.execute(db, "UPDATE sources SET owner = 'mallory@x.cn' WHERE archive_id = 1")
        changed = run("verify")  # type: ignore[operator]
        assert changed.returncode == 1
        lines = changed.stdout.splitlines()
        assert any(
            line.startswith("ledger differs: sources row ")
            and line.endswith(
                "differs from ledger entry 1 (arrival file "
                + str(tmp_path / "mail" / "a.eml")
                + " [mail] of message 1): owner -- FIRST BROKEN LINK"
            )
            for line in lines
        ), lines
        assert lines[-1].endswith("PROBLEMS FOUND")

        forged = json.loads(tamper.payload(db, 1))
        forged["source"]["owner"] = "mallory@x.cn"
        tamper.set_payload(
            db, 1, json.dumps(forged, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        )
        tamper.rehash_from(db, 1)
        tamper.execute(db, "DELETE FROM ledger_checkpoints")  # the copy inside the archive goes too
    finally:
        db.dispose()
    assert run("verify").returncode == 0  # type: ignore[operator]
    caught = run("verify", "--checkpoint", str(kept))  # type: ignore[operator]
    assert caught.returncode == 1
    assert f"checkpoint 2:{entry_hash} (checkpoint.txt) does not hold" in caught.stdout
    also = run("verify", "--checkpoint", f"2:{entry_hash}", "--json")  # type: ignore[operator]
    report = json.loads(also.stdout)
    assert (report["ok"], report["ledger"]["ok"], report["checked"]) == (False, False, 2)
    assert [f["problem"] for f in report["ledger"]["findings"]] == ["checkpoint"]


def test_altered_blob_is_named(tmp_path: Path, run: object) -> None:
    imported(tmp_path, run)
    blob = next((tmp_path / "data" / "blobs").rglob("*.zst"))
    blob.chmod(0o600)
    data = bytearray(blob.read_bytes())
    data[-5] ^= 0xFF
    blob.write_bytes(bytes(data))
    done = run("verify")  # type: ignore[operator]
    assert done.returncode == 1
    sha = blob.name.removesuffix(".zst")
    assert any(
        sha in line and line.split(":")[0] in ("mismatch", "damaged") for line in done.stdout.splitlines()
    )


def test_seal_after_upgrade(tmp_path: Path, database_url: str, run: object) -> None:
    imported(tmp_path, run)
    db = Database(database_url)
    try:
        tamper.allow_changes(db, "ledger_entries")
        tamper.execute(db, "DELETE FROM ledger_entries")  # as before revision 0005
    finally:
        db.dispose()
    unsealed = run("verify")  # type: ignore[operator]
    assert unsealed.returncode == 1
    assert sum("is not in the ledger" in line for line in unsealed.stdout.splitlines()) == 4
    sealed = run("ledger", "seal")  # type: ignore[operator]
    assert sealed.returncode == 0, sealed.stderr
    assert sealed.stdout.startswith("sealed 2 rows; the chain head is 2:")
    assert run("verify").returncode == 0  # type: ignore[operator]
    assert run("ledger", "seal").stdout.startswith("sealed 0 rows")  # type: ignore[operator]


def test_bad_checkpoint_is_one_line(tmp_path: Path, run: object) -> None:
    done = run("verify", "--checkpoint", "12:abc")  # type: ignore[operator]
    assert done.returncode == 1
    assert done.stderr == (
        "mailvault: error: --checkpoint 12:abc: neither SEQ:HASH (a number, a colon, 64 hex digits) "
        "nor a checkpoint file\n"
    )
    empty = run("ledger", "checkpoint")  # type: ignore[operator]
    assert empty.returncode == 1
    assert empty.stderr.splitlines()[-1].startswith("mailvault: error: the ledger is empty")
    assert "Traceback" not in empty.stderr


def test_ledger_commands_have_help() -> None:
    runner = CliRunner()
    for command in (
        ["ledger"],
        *(["ledger", c] for c in ("head", "seal", "checkpoint", "checkpoints", "verify-stamp")),
    ):
        done = runner.invoke(cli, [*command, "--help"], prog_name="mailvault")
        assert done.exit_code == 0, (command, done.output)
        assert "Usage: mailvault" in done.output
    assert "--checkpoint SEQ:HASH|FILE" in runner.invoke(cli, ["verify", "--help"]).output
