"""Evidence packages: what is inside, and the stand-alone checker finding what was changed."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from mailvault.archive.store import Archive
from mailvault.errors import MailvaultError, NotFoundError
from mailvault.evidence import build_package
from mailvault.evidence.checker import check, main, parse_head
from mailvault.evidence.online import check_against_archive
from mailvault.ledger.chain import entry_hash, head
from tests.archive.test_bundle import ingest
from tests.evidence.conftest import Build, members, raws, report, rewrite


def write(tmp_path: Path, data: bytes, name: str = "pkg.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_package_holds_the_exact_messages_the_reports_and_the_ledger_entries(
    archive: Archive, build: Build
) -> None:
    data, result = build()
    files = members(data)
    names = [n for n in files if n.startswith("messages/")]
    ids = [m.archive_id for m in result.manifest.entries]
    assert names == [f"messages/{n:03d}-{i}.eml" for n, i in enumerate(ids, 1)]
    assert [files[n] for n in names] == raws()
    assert list(files)[len(names) :] == [
        "report.html",
        "report.pdf",
        "verify_evidence.py",
        "manifest.json",
        "SHA256SUMS",
    ]
    assert files["verify_evidence.py"] == Path("mailvault/evidence/checker.py").read_bytes()
    assert (result.sha256, result.size) == (hashlib.sha256(data).hexdigest(), len(data))

    manifest = json.loads(files["manifest.json"])
    assert (manifest["kind"], manifest["employee"], manifest["exported_by"]) == (
        "evidence",
        "张伟 zhang.wei@huaqiang-elec.com.cn",
        "li.na",
    )
    with archive.db.reading() as session:
        now = head(session)
    assert manifest["ledger_head"] == {"seq": now.seq, "entry_hash": now.entry_hash}
    assert manifest["messages"][0]["subject"] == "报价单"
    for message, raw in zip(manifest["messages"], raws(), strict=True):
        entry = message["ledger"]
        payload = json.loads(entry["payload"])
        assert payload["source"]["sha256"] == message["sha256"] == hashlib.sha256(raw).hexdigest()
        assert payload["message"]["archive_id"] == message["archive_id"]  # the arrival that created it
        assert entry["kind"] == "arrival"
        assert entry["entry_hash"] == entry_hash(
            entry["seq"], entry["kind"], entry["ref"], entry["prev_hash"], entry["payload"]
        )
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    for name in ("report.html", "report.pdf", "verify_evidence.py", *names):
        assert listed[name] == hashlib.sha256(files[name]).hexdigest()
    sums = files["SHA256SUMS"].decode()
    assert sorted(line.split("  ")[1] for line in sums.splitlines()) == sorted(set(files) - {"SHA256SUMS"})


def test_the_checker_passes_an_intact_package(build: Build, tmp_path: Path) -> None:
    data, _ = build()
    outcome = check(str(write(tmp_path, data)))
    assert outcome.problems == []
    assert outcome.lines() == ["OK: 3 messages, 8 files verified"]


def test_verify_evidence_py_runs_alone_on_the_standard_library(build: Build, tmp_path: Path) -> None:
    """Extracted from the zip and run with -I -S: no site-packages, so no mailvault and nothing else."""
    data, result = build()
    package = write(tmp_path, data, "证据包.zip")
    script = tmp_path / "verify_evidence.py"
    script.write_bytes(members(data)["verify_evidence.py"])
    head_arg = f"{result.ledger_head.seq}:{result.ledger_head.entry_hash}"
    done = subprocess.run(
        [sys.executable, "-I", "-S", script.name, package.name, "--head", head_arg],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        f"ledger head #{result.ledger_head.seq} {result.ledger_head.entry_hash} matches the checkpoint",
        "OK: 3 messages, 8 files verified",
    ]

    broken = rewrite(data, lambda files: files.pop("report.pdf"))
    package.write_bytes(broken)
    done = subprocess.run(
        [sys.executable, "-I", "-S", script.name, package.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "report.pdf: listed in SHA256SUMS, but missing from the zip" in done.stdout.splitlines()
    assert done.stdout.splitlines()[-1].startswith("FAILED: ")


def test_the_checker_runs_as_a_module(build: Build, tmp_path: Path) -> None:
    data, _ = build()
    done = subprocess.run(
        [sys.executable, "-m", "mailvault.evidence.checker", str(write(tmp_path, data))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "OK: 3 messages, 8 files verified\n")


def flip_a_byte(name: str) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        target = next(n for n in files if re.fullmatch(name, n))
        altered = bytearray(files[target])
        altered[len(altered) // 2] ^= 0x01
        files[target] = bytes(altered)

    return change


def forge_payload(files: dict[str, bytes]) -> None:
    """Change what the first ledger entry says, and make SHA256SUMS agree with the new manifest."""
    manifest = json.loads(files["manifest.json"])
    entry = manifest["messages"][0]["ledger"]
    entry["payload"] = entry["payload"].replace('"kind":"file"', '"kind":"smtp"')
    files["manifest.json"] = json.dumps(manifest, ensure_ascii=False).encode()
    resum(files)


def resum(files: dict[str, bytes]) -> None:
    names = [line.split("  ", 1)[1] for line in files["SHA256SUMS"].decode().splitlines()]
    files["SHA256SUMS"] = "".join(f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in names).encode()


def drop(name: str) -> Callable[[dict[str, bytes]], object]:
    return lambda files: files.pop(next(n for n in files if re.fullmatch(name, n)))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            flip_a_byte(r"messages/001-\d+\.eml"),
            r"^messages/001-\d+\.eml: SHA-256 \w+ differs from SHA256SUMS",
        ),
        (
            flip_a_byte(r"messages/002-\d+\.eml"),
            r"^ledger entry #\d+ of messages/002-\d+\.eml: seals SHA-256",
        ),
        (flip_a_byte("report.pdf"), r"^report\.pdf: SHA-256 \w+ differs from SHA256SUMS"),
        (flip_a_byte("report.pdf"), r"^report\.pdf: SHA-256 or size differs from manifest\.json"),
        (forge_payload, r"^ledger entry #\d+ of messages/001-\d+\.eml: its hash is \w+, not the recorded"),
        (drop(r"messages/003-\d+\.eml"), r"^messages/003-\d+\.eml: listed in SHA256SUMS, but missing"),
        (drop("manifest.json"), r"^manifest\.json: required, but missing from the zip"),
        (lambda files: files.update({"extra.eml": b"x"}), r"^extra\.eml: not listed in SHA256SUMS"),
    ],
)
def test_the_checker_names_what_was_changed(
    build: Build, tmp_path: Path, change: Callable[[dict[str, bytes]], object], expected: str
) -> None:
    data, _ = build()
    path = write(tmp_path, rewrite(data, change))
    outcome = check(str(path))
    assert any(re.search(expected, p) for p in outcome.problems), outcome.problems
    assert outcome.lines()[-1] == f"FAILED: {len(outcome.problems)} problem(s) found in {path}"
    assert main([str(path)]) == 1


def test_a_damaged_zip_is_reported_not_raised(build: Build, tmp_path: Path) -> None:
    data, _ = build()
    outcome = check(str(write(tmp_path, data[: len(data) // 2])))
    assert len(outcome.problems) == 1
    assert outcome.problems[0].startswith("cannot read ")


def test_head_is_compared_with_the_checkpoint(build: Build, tmp_path: Path) -> None:
    data, result = build()
    path = str(write(tmp_path, data))
    seq, value = result.ledger_head.seq, result.ledger_head.entry_hash
    assert check(path, (seq, value)).ok
    other = hashlib.sha256(b"another chain").hexdigest()
    differs = check(path, (seq, other))
    assert differs.problems == [
        f"ledger head: the package records #{seq} {value}, the checkpoint #{seq} {other}: they differ"
    ]
    later = check(path, (seq + 5, other))
    assert len(later.problems) == 1
    assert later.problems[0].startswith(
        f"ledger head: the package records #{seq}, the checkpoint is #{seq + 5}"
    )


@pytest.mark.parametrize("text", ["12", "12:abc", "x:" + "0" * 64, ":" + "0" * 64])
def test_a_malformed_head_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not SEQ:HASH"):
        parse_head(text)


def test_a_forger_who_recomputes_the_entry_passes_offline_but_not_against_the_archive(
    archive: Archive, build: Build, tmp_path: Path
) -> None:
    """The package alone cannot link an entry to the head: the archive's ledger can (docs/evidence.md)."""
    data, _ = build()
    forged_raw = b"Subject: forged\r\n\r\npay into account 123\r\n"
    forged_sha = hashlib.sha256(forged_raw).hexdigest()

    def forge(files: dict[str, bytes]) -> None:
        manifest = json.loads(files["manifest.json"])
        message = manifest["messages"][1]
        files[message["file"]] = forged_raw
        entry = message["ledger"]
        entry["payload"] = entry["payload"].replace(message["sha256"], forged_sha)
        entry["entry_hash"] = entry_hash(
            entry["seq"], entry["kind"], entry["ref"], entry["prev_hash"], entry["payload"]
        )
        message.update(sha256=forged_sha, size=len(forged_raw))
        for item in manifest["files"]:
            if item["path"] == message["file"]:
                item.update(sha256=forged_sha, size=len(forged_raw))
        files["manifest.json"] = json.dumps(manifest, ensure_ascii=False).encode()
        resum(files)

    path = str(write(tmp_path, rewrite(data, forge)))
    offline = check(path)
    # Entries that are neighbours in the chain do link: the next one still names the old hash.
    assert offline.problems
    assert all("does not follow entry" in p for p in offline.problems)

    online = check(path)
    check_against_archive(archive, online, None)
    seq = json.loads(members(rewrite(data, forge))["manifest.json"])["messages"][1]["ledger"]["seq"]
    assert f"ledger entry #{seq}: differs from this archive's ledger (entry_hash, payload)" in online.problems


def test_against_the_archive_an_intact_package_links_to_a_later_checkpoint(
    archive: Archive, build: Build, tmp_path: Path
) -> None:
    data, result = build()
    ingest(archive, [raws()[0].replace(b"gbk-quote-1", b"gbk-quote-2")])  # the chain moves on
    with archive.db.reading() as session:
        later = head(session)
    assert later.seq > result.ledger_head.seq
    path = str(write(tmp_path, data))
    outcome = check(path)
    check_against_archive(archive, outcome, (later.seq, later.entry_hash))
    assert outcome.problems == []
    assert outcome.head_note.endswith("one intact chain")

    wrong = check(path)
    check_against_archive(archive, wrong, (later.seq, "0" * 64))
    assert wrong.problems == [f"ledger: entry #{later.seq} of this archive differs from the checkpoint"]


def test_ids_are_packaged_once_in_the_order_given(archive: Archive, build: Build) -> None:
    ids = ingest(archive, raws())
    _, result = build([ids[2], ids[0], ids[2]])
    assert [e.archive_id for e in result.manifest.entries] == [ids[2], ids[0]]
    assert [e.file for e in result.manifest.entries] == [
        f"messages/001-{ids[2]}.eml",
        f"messages/002-{ids[0]}.eml",
    ]


def test_unknown_or_no_messages_are_refused_and_leave_no_file(archive: Archive, tmp_path: Path) -> None:
    ids = ingest(archive, raws())
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "case.zip"
    with pytest.raises(NotFoundError, match="no archived message has id 999"):
        build_package(archive, [*ids, 999], report(), out, built_by="li.na")
    with pytest.raises(MailvaultError, match="needs at least one message"):
        build_package(archive, [], report(), out, built_by="li.na")
    assert list(folder.iterdir()) == []


def test_a_package_written_to_a_path_is_the_zip_result_describes(archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "case.zip"
    result = build_package(archive, ingest(archive, raws()), report("en"), out, built_by="li.na")
    assert result.path == out
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result.sha256
    assert sorted(p.name for p in folder.iterdir()) == ["case.zip"]  # no partial file left
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
