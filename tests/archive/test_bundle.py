"""Evidence exports: exact bytes in a zip, a manifest, and SHA256SUMS that standard tools check."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import threading
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO

import pytest
import zstandard
from click.testing import CliRunner

from mailvault import __version__
from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.bundle import Manifest, verify_zip, write_mbox_zip, write_zip
from mailvault.archive.models import SourceKind
from mailvault.archive.store import Archive
from mailvault.cli import cli
from mailvault.config import Settings
from mailvault.errors import ArchiveError, NotFoundError
from tests.mailfactory import make_message, raw_message

Writer = Callable[..., Manifest]

GBK_HEADERS = b"""From: =?utf-8?b?5byg5Lyf?= <zhang.wei@huaqiang-elec.com.cn>
To: Hans <hans@kunde.de>
Subject: =?gbk?b?sai827Wl?=
Date: Tue, 04 Mar 2025 13:06:07 +0800
Message-ID: <gbk-quote-1@huaqiang-elec.com.cn>
MIME-Version: 1.0
Content-Type: text/plain; charset=gbk
Content-Transfer-Encoding: 8bit"""

# 8-bit GBK, lines an mbox must escape ("From ", ">From "), and a line that merely contains From.
GBK_BODY = (
    "您好，\r\nFrom 深圳工厂：报价如下。\r\n>From 上一封邮件\r\n>>From older\r\n单价 From 12 元\r\n"
).encode("gbk")


def corpus() -> list[bytes]:
    return [
        raw_message(GBK_HEADERS, GBK_BODY),
        make_message(
            subject="形式发票 PI-2024-031",
            message_id="<pi-2024-031@huaqiang-elec.com.cn>",
            body="From the factory: 价格见附件。\nFrom here on, prices are firm.\n",
            attachments=[("PI-2024-031.pdf", b"%PDF-1.4 " + bytes(range(256)), "application/pdf")],
        ),
        make_message(subject="no date", date=None, message_id=None),
    ]


def ingest(archive: Archive, raws: list[bytes]) -> list[int]:
    results = archive.ingestor.ingest_many(
        [Arrival(raw, SourceInfo(SourceKind.FILE, f"/import/{n}.eml")) for n, raw in enumerate(raws)]
    )
    return [r.archive_id for r in results]


def export(writer: Writer, archive: Archive, ids: list[int], **kwargs: str) -> tuple[bytes, Manifest]:
    out = io.BytesIO()
    manifest = writer(out, archive, ids, title="Case 2025-17", exported_by="legal@huaqiang", **kwargs)
    return out.getvalue(), manifest


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def sha256sum_check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True, check=False
    )


def split_mboxrd(mbox: bytes) -> list[bytes]:
    """Our own reading of RFC 4155 mboxrd, independent of mailvault's: split, unframe, un-escape."""
    parts = re.split(rb"^From [^\n]*\n", mbox, flags=re.MULTILINE)
    assert parts[0] == b""
    messages = []
    for part in parts[1:]:
        assert part.endswith(b"\n")
        messages.append(re.sub(rb"^>(>*From )", rb"\1", part[:-1], flags=re.MULTILINE))
    return messages


def test_zip_holds_each_message_byte_for_byte(archive: Archive) -> None:
    raws = corpus()
    ids = ingest(archive, raws)
    data, manifest = export(write_zip, archive, ids)
    files = members(data)
    expected = {
        f"messages/{i}-{hashlib.sha256(raw).hexdigest()[:12]}.eml": raw
        for i, raw in zip(ids, raws, strict=True)
    }
    assert list(files) == [*expected, "manifest.json", "SHA256SUMS"]
    for name, raw in expected.items():
        assert files[name] == raw
    assert (manifest.count, manifest.total_bytes) == (3, sum(len(r) for r in raws))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
        # The Date header in UTC, to the 2 seconds a zip (DOS) time can hold.
        assert zf.getinfo(next(iter(expected))).date_time == (2025, 3, 4, 5, 6, 6)
    assert verify_zip_bytes(data) == []


def test_sha256sum_verifies_the_unzipped_export_and_catches_one_changed_byte(
    archive: Archive, tmp_path: Path
) -> None:
    raws = corpus()
    data, _ = export(write_zip, archive, ingest(archive, raws))
    folder = tmp_path / "evidence"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(folder)
    sums = (folder / "SHA256SUMS").read_text()
    assert re.fullmatch(r"([0-9a-f]{64}  \S+\n)+", sums)
    # The sum of each message is the name of its stored blob: it ties the file to the archive.
    for raw in raws:
        assert hashlib.sha256(raw).hexdigest() in sums

    done = sha256sum_check(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": OK\n") == 4  # three messages and manifest.json

    target = next((folder / "messages").iterdir())
    altered = bytearray(target.read_bytes())
    altered[len(altered) // 2] ^= 0x01
    target.write_bytes(bytes(altered))
    done = sha256sum_check(folder)
    assert done.returncode == 1
    assert f"messages/{target.name}: FAILED" in done.stdout


def test_manifest_describes_the_export_and_each_message(archive: Archive) -> None:
    raws = corpus()
    ids = ingest(archive, raws)
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    data, manifest = export(write_zip, archive, ids, query='from:zhang.wei "报价"')
    files = members(data)
    written = json.loads(files["manifest.json"])
    assert written == manifest.as_dict()
    exported_at = datetime.fromisoformat(written.pop("exported_at").removesuffix("Z"))
    assert before <= exported_at <= before + timedelta(minutes=1)
    messages = written.pop("messages")
    assert written == {
        "format": "mailvault-export",
        "format_version": 1,
        "kind": "eml",
        "title": "Case 2025-17",
        "exported_by": "legal@huaqiang",
        "query": 'from:zhang.wei "报价"',
        "mailvault_version": __version__,
        "count": 3,
        "total_bytes": sum(len(r) for r in raws),
        "files": [{"path": m["file"], "sha256": m["sha256"], "size": m["size"]} for m in messages],
    }
    for entry, archive_id, raw in zip(messages, ids, raws, strict=True):
        assert entry["archive_id"] == archive_id
        assert (
            entry["sha256"]
            == hashlib.sha256(files[entry["file"]]).hexdigest()
            == hashlib.sha256(raw).hexdigest()
        )
        assert entry["size"] == len(raw)
    gbk, invoice, undated = messages
    assert (gbk["message_id"], gbk["date"], gbk["subject"]) == (
        "gbk-quote-1@huaqiang-elec.com.cn",
        "2025-03-04T05:06:07Z",
        "报价单",
    )
    assert gbk["from"] == {"address": "zhang.wei@huaqiang-elec.com.cn", "name": "张伟"}
    assert (invoice["message_id"], invoice["subject"]) == (
        "pi-2024-031@huaqiang-elec.com.cn",
        "形式发票 PI-2024-031",
    )
    assert (undated["message_id"], undated["date"]) == (None, None)


def test_mbox_zip_splits_back_into_the_exact_messages(archive: Archive, tmp_path: Path) -> None:
    raws = corpus()
    ids = ingest(archive, raws)
    data, manifest = export(write_mbox_zip, archive, ids)
    files = members(data)
    assert list(files) == ["messages.mbox", "manifest.json", "SHA256SUMS"]
    mbox = files["messages.mbox"]
    assert "\r\n>From 深圳工厂".encode("gbk") in mbox
    assert "\r\n>>>From older".encode("gbk") in mbox
    assert split_mboxrd(mbox) == raws

    written = json.loads(files["manifest.json"])
    assert written["kind"] == "mbox"
    assert [(m["file"], m["sha256"], m["size"]) for m in written["messages"]] == [
        ("messages.mbox", hashlib.sha256(raw).hexdigest(), len(raw)) for raw in raws
    ]
    assert written["files"] == [
        {"path": "messages.mbox", "sha256": hashlib.sha256(mbox).hexdigest(), "size": len(mbox)}
    ]
    assert manifest.total_bytes == sum(len(r) for r in raws)

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(tmp_path)
    done = sha256sum_check(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "messages.mbox: OK\nmanifest.json: OK\n"
    assert verify_zip_bytes(data) == []


def test_mbox_zip_of_a_message_without_final_newline_still_verifies(archive: Archive) -> None:
    raw = make_message().rstrip(b"\r\n")
    data, _ = export(write_mbox_zip, archive, ingest(archive, [raw]))
    assert verify_zip_bytes(data) == []


def test_an_unseekable_stream_gets_a_valid_zip(archive: Archive, tmp_path: Path) -> None:
    """The web app streams exports to a browser: the zip must not need to seek back."""
    raws = corpus()
    ids = ingest(archive, raws)
    for writer in (write_zip, write_mbox_zip):
        data = through_a_pipe(partial(writer, archive=archive, archive_ids=ids, title="t", exported_by="web"))
        assert verify_zip_bytes(data) == []
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert all(info.flag_bits & 0x08 for info in zf.infolist())  # sizes in data descriptors
        if writer is write_zip:
            assert [v for n, v in members(data).items() if n.startswith("messages/")] == raws
        else:
            assert split_mboxrd(members(data)["messages.mbox"]) == raws
        if shutil.which("unzip"):
            path = tmp_path / "streamed.zip"
            path.write_bytes(data)
            tested = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, check=False)
            assert tested.returncode == 0, tested.stdout + tested.stderr


def through_a_pipe(write: Callable[[IO[bytes]], object]) -> bytes:
    """Whatever `write` writes into a real pipe (which cannot seek or tell), as a reader got it."""
    read_fd, write_fd = os.pipe()
    received = io.BytesIO()

    def drain() -> None:
        with open(read_fd, "rb") as reader:
            while chunk := reader.read(65536):
                received.write(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        with open(write_fd, "wb") as handle:
            assert not handle.seekable()
            write(handle)
    finally:
        reader.join(timeout=30)
    return received.getvalue()


def verify_zip_bytes(data: bytes) -> list[str]:
    return verify_zip(io.BytesIO(data))


def rewrite(data: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    """The zip with its members edited by `change`, rewritten so every CRC is valid again."""
    files = members(data)
    change(files)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return out.getvalue()


def edit_first_message(files: dict[str, bytes]) -> None:
    name = next(n for n in files if n.startswith("messages/"))
    files[name] = files[name].replace(b"From ", b"From:", 1)


def edit_manifest_and_resum(files: dict[str, bytes]) -> None:
    """A careless forger: alters a recorded hash and fixes SHA256SUMS for manifest.json."""
    manifest = json.loads(files["manifest.json"])
    manifest["messages"][0]["sha256"] = "0" * 64
    files["manifest.json"] = json.dumps(manifest).encode()
    resum(files)


def resum(files: dict[str, bytes]) -> None:
    lines = [line.split("  ", 1)[1] for line in files["SHA256SUMS"].decode().splitlines()]
    files["SHA256SUMS"] = "".join(f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in lines).encode()


def drop_first_message(files: dict[str, bytes]) -> None:
    del files[next(n for n in files if n.startswith("messages/"))]


def add_a_member(files: dict[str, bytes]) -> None:
    files["messages/99-forged.eml"] = b"Subject: forged\r\n\r\npay into account 123\r\n"


def drop_sums(files: dict[str, bytes]) -> None:
    del files["SHA256SUMS"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (edit_first_message, r"^messages/\S+\.eml: SHA-256 \w+ differs from SHA256SUMS"),
        (
            edit_manifest_and_resum,
            r"^messages/\S+\.eml: SHA-256 or size differs from message \d+ in manifest",
        ),
        (drop_first_message, r"^messages/\S+\.eml: listed in SHA256SUMS, but missing from the zip"),
        (add_a_member, r"^messages/99-forged\.eml: not listed in SHA256SUMS"),
        (drop_sums, r"^SHA256SUMS: required, but missing from the zip"),
    ],
)
def test_verify_zip_names_what_was_tampered_with(
    archive: Archive, change: Callable[[dict[str, bytes]], None], expected: str
) -> None:
    data, _ = export(write_zip, archive, ingest(archive, corpus()))
    problems = verify_zip_bytes(rewrite(data, change))
    assert any(re.search(expected, p) for p in problems), problems


def test_verify_zip_finds_damaged_bytes_and_a_cut_off_file(archive: Archive) -> None:
    data, _ = export(write_zip, archive, ingest(archive, corpus()))
    damaged = bytearray(data)
    damaged[200] ^= 0xFF  # inside the first member's deflated data
    problems = verify_zip_bytes(bytes(damaged))
    assert problems
    assert problems[0].startswith("messages/")
    assert verify_zip_bytes(data[: len(data) // 2])[0].startswith("cannot read ")


def test_verify_zip_checks_each_message_inside_an_mbox(archive: Archive) -> None:
    raws = corpus()
    ids = ingest(archive, raws)
    data, _ = export(write_mbox_zip, archive, ids)

    def forge(files: dict[str, bytes]) -> None:
        files["messages.mbox"] = files["messages.mbox"].replace("元".encode("gbk"), "圆".encode("gbk"))
        manifest = json.loads(files["manifest.json"])
        mbox = files["messages.mbox"]
        manifest["files"][0].update(sha256=hashlib.sha256(mbox).hexdigest(), size=len(mbox))
        files["manifest.json"] = json.dumps(manifest).encode()
        resum(files)

    # Every file matches SHA256SUMS and manifest.json, but message 1 no longer matches its hash.
    assert verify_zip_bytes(rewrite(data, forge)) == [
        f"messages.mbox: message 1 (id {ids[0]}) differs from manifest.json"
    ]


def test_duplicate_ids_are_exported_once(archive: Archive) -> None:
    first, second, _ = ingest(archive, corpus())
    _, manifest = export(write_zip, archive, [first, second, first])
    assert [e.archive_id for e in manifest.entries] == [first, second]


def test_a_vanished_message_is_not_found_by_id(archive: Archive) -> None:
    ids = ingest(archive, corpus())
    with pytest.raises(NotFoundError, match="no archived message has id 999"):
        export(write_zip, archive, [*ids, 999])


def test_a_stored_copy_that_no_longer_matches_is_refused(archive: Archive) -> None:
    raws = corpus()
    ids = ingest(archive, raws)
    sha256 = hashlib.sha256(raws[1]).hexdigest()
    path = archive.blobs.path_of(sha256)
    path.chmod(0o600)
    path.write_bytes(zstandard.ZstdCompressor().compress(b"Subject: forged\r\n\r\npay into account 123\r\n"))
    with pytest.raises(ArchiveError, match=f"stored copy {sha256} of message {ids[1]} no longer matches"):
        export(write_mbox_zip, archive, ids)


# -- The command line: `mailvault export --zip/--zip-mbox` and `mailvault verify --export`.


def run(settings: Settings, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    done = runner.invoke(
        cli,
        [
            "--data-dir",
            str(settings.archive.data_dir),
            "--database-url",
            settings.archive.resolved_database_url,
            *args,
        ],
        prog_name="mailvault",
    )
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise done.exception
    return done.exit_code, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("option", "first_member"), [("--zip", "messages/"), ("--zip-mbox", "messages.mbox")]
)
def test_cli_exports_a_zip_that_verifies(
    archive: Archive, settings: Settings, tmp_path: Path, option: str, first_member: str
) -> None:
    ingest(archive, corpus())
    out = tmp_path / "case.zip"
    code, _, err = run(settings, "export", option, str(out), "1", "<pi-2024-031@huaqiang-elec.com.cn>", "3")
    assert code == 0, err
    assert err == f"exported 3 message(s) to {out} (manifest: SHA256SUMS)\n"
    assert sorted(p.name for p in tmp_path.iterdir() if "case" in p.name) == ["case.zip"]  # no partial left
    manifest = json.loads(members(out.read_bytes())["manifest.json"])
    assert manifest["query"] == "1 <pi-2024-031@huaqiang-elec.com.cn> 3"
    assert manifest["title"] == "mailvault export of 3 message(s)"
    assert "@" in manifest["exported_by"]
    assert next(iter(members(out.read_bytes()))).startswith(first_member)

    code, stdout, _ = run(settings, "verify", "--export", str(out))
    assert (code, stdout) == (0, f"{out}: intact\n")
    out.write_bytes(rewrite(out.read_bytes(), lambda files: files.update({"extra.txt": b"x"})))
    code, stdout, _ = run(settings, "verify", "--export", str(out), "--json")
    assert code == 1
    assert json.loads(stdout) == {
        "file": str(out),
        "ok": False,
        "problems": ["extra.txt: not listed in SHA256SUMS"],
    }


def test_cli_zip_title_and_exporter_are_recorded(
    archive: Archive, settings: Settings, tmp_path: Path
) -> None:
    ingest(archive, corpus())
    out = tmp_path / "case.zip"
    code, _, err = run(
        settings, "export", "--zip", str(out), "--title", "Case 17", "--exported-by", "li.na", "1", "2"
    )
    assert code == 0, err
    manifest = json.loads(members(out.read_bytes())["manifest.json"])
    assert (manifest["title"], manifest["exported_by"], manifest["count"]) == ("Case 17", "li.na", 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--zip", "a.zip", "--mbox", "a.mbox", "1"],
            "choose one of --mbox, --dir, -o, --zip and --zip-mbox",
        ),
        (["--zip", "a.zip", "--zip-mbox", "b.zip", "1"], "choose one of"),
        (["--title", "x", "1"], "--title and --exported-by describe a --zip or --zip-mbox export"),
    ],
)
def test_cli_zip_options_are_exclusive(settings: Settings, args: list[str], message: str) -> None:
    code, _, err = run(settings, "export", *args)
    assert code == 2
    assert message in err


def test_cli_unknown_message_leaves_no_zip(archive: Archive, settings: Settings, tmp_path: Path) -> None:
    ingest(archive, corpus())
    out = tmp_path / "case.zip"
    with pytest.raises(NotFoundError, match="'999'"):
        run(settings, "export", "--zip", str(out), "1", "999")
    assert not list(tmp_path.glob("*case.zip*"))
