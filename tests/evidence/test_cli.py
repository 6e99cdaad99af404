"""`mailvault evidence build|verify`."""

from __future__ import annotations

import json
from pathlib import Path

from mailvault.archive.store import Archive
from mailvault.config import Settings
from tests.archive.test_bundle import ingest, run
from tests.evidence.conftest import members, raws


def test_build_then_verify_offline_and_against_the_archive(
    archive: Archive, settings: Settings, tmp_path: Path
) -> None:
    ids = ingest(archive, raws())
    out = tmp_path / "case.zip"
    code, _, err = run(
        settings,
        *("evidence", "build", "--ids", f"{ids[0]},{ids[2]}", "--out", str(out)),
        *("--title", "Case 17", "--employee", "zhang.wei@huaqiang-elec.com.cn", "--language", "en"),
    )
    assert code == 0, err
    manifest = json.loads(members(out.read_bytes())["manifest.json"])
    assert [m["archive_id"] for m in manifest["messages"]] == [ids[0], ids[2]]
    assert (manifest["title"], manifest["language"]) == ("Case 17", "en")
    head = manifest["ledger_head"]
    assert err.startswith(f"wrote {out}: 2 message(s), ledger head #{head['seq']}, SHA-256 ")

    code, stdout, _ = run(settings, "evidence", "verify", str(out))
    assert (code, stdout) == (0, "OK: 2 messages, 7 files verified\n")
    code, stdout, _ = run(settings, "evidence", "verify", str(out), "--head", f"{head['seq']}:{'0' * 64}")
    assert code == 1
    assert "they differ" in stdout.splitlines()[0]
    code, stdout, _ = run(settings, "evidence", "verify", str(out), "--against-archive", "--json")
    assert code == 0
    assert json.loads(stdout)["head"].endswith("one intact chain")


def test_build_by_query(archive: Archive, settings: Settings, tmp_path: Path) -> None:
    ids = ingest(archive, raws())
    out = tmp_path / "case.zip"
    code, _, err = run(
        settings, "evidence", "build", "--query", "subject:形式发票", "--out", str(out), "--title", "PI"
    )
    assert code == 0, err
    manifest = json.loads(members(out.read_bytes())["manifest.json"])
    assert [m["archive_id"] for m in manifest["messages"]] == [ids[2]]
    assert manifest["query"] == "subject:形式发票"


def test_build_needs_exactly_one_way_to_choose(settings: Settings, tmp_path: Path) -> None:
    out = str(tmp_path / "x.zip")
    code, _, err = run(settings, "evidence", "build", "--out", out, "--title", "t")
    assert code == 2
    assert "choose the messages with one of --ids and --query" in err
    code, _, err = run(settings, "evidence", "build", "--ids", "1,x", "--out", out, "--title", "t")
    assert code == 2
    assert "is not a list of archive ids" in err
