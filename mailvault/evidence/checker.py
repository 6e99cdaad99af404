"""Checks a mailvault evidence package with nothing but Python 3's standard library.

Copied unchanged into every package as verify_evidence.py:

    python3 verify_evidence.py PACKAGE.zip [--head SEQ:HASH]

It re-hashes every file against SHA256SUMS and manifest.json; for each message it recomputes the
ledger entry's hash from (seq, kind, ref, prev_hash, payload) and checks that the payload commits
to the SHA-256 of the .eml file; with --head it compares the ledger head recorded in the package
with one kept elsewhere (a printed, mailed or time-stamped checkpoint). It prints one line per
problem, then "OK: ..." and exits 0, or "FAILED: ..." and exits 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
FORMAT = "mailvault-export"
KIND = "evidence"
GENESIS = "0" * 64
_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


@dataclass
class Outcome:
    """What a check found. `manifest` is the parsed manifest.json when it could be read."""

    source: str
    problems: list[str] = field(default_factory=list)
    messages: int = 0
    files: int = 0
    manifest: dict[str, Any] | None = None
    head_note: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """What the command prints: the problems, the head comparison, the verdict."""
        out = list(self.problems)
        if self.head_note:
            out.append(self.head_note)
        if self.ok:
            out.append(f"OK: {self.messages} messages, {self.files} files verified")
        else:
            out.append(f"FAILED: {len(self.problems)} problem(s) found in {self.source}")
        return out


def entry_hash(seq: int, kind: str, ref: str, prev_hash: str, payload: str) -> str:
    """The ledger's hash of one entry: SHA-256 of "seq\\nkind\\nref\\nprev_hash\\n" then the payload."""
    digest = hashlib.sha256(f"{seq}\n{kind}\n{ref}\n{prev_hash}\n".encode())
    digest.update(payload.encode())
    return digest.hexdigest()


def parse_head(text: str) -> tuple[int, str]:
    """SEQ:HASH, as a checkpoint prints it, e.g. 1234:9f86d081...; ValueError if it is not one."""
    seq, _, value = text.strip().partition(":")
    value = value.strip().lower()
    if not seq.strip().isdigit() or not _HEX64.match(value):
        raise ValueError(f"{text!r} is not SEQ:HASH (a number, a colon, 64 hex digits)")
    return int(seq), value


def check(path: str, head: tuple[int, str] | None = None) -> Outcome:
    """Check the package at `path`; with `head`, compare its ledger head with that checkpoint."""
    outcome = Outcome(source=str(path))
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        outcome.problems.append(f"cannot read {path} as a zip file: {exc}")
        return outcome
    with zf:
        _Package(zf, outcome).run()
    if head is not None:
        compare_head(outcome, head)
    return outcome


def compare_head(outcome: Outcome, checkpoint: tuple[int, str]) -> None:
    """Whether the package's recorded ledger head is the checkpoint (offline: only at the same seq)."""
    recorded = _recorded_head(outcome.manifest)
    seq, value = checkpoint
    if recorded is None:
        outcome.problems.append(f"ledger head: {MANIFEST} records none to compare with the checkpoint")
    elif recorded == checkpoint:
        outcome.head_note = f"ledger head #{seq} {value} matches the checkpoint"
    elif recorded[0] == seq:
        outcome.problems.append(
            f"ledger head: the package records #{seq} {recorded[1]}, the checkpoint #{seq} {value}: "
            "they differ"
        )
    else:
        outcome.problems.append(
            f"ledger head: the package records #{recorded[0]}, the checkpoint is #{seq}; entries between "
            "them are needed to compare (`mailvault evidence verify --against-archive` has them)"
        )


def _recorded_head(manifest: dict[str, Any] | None) -> tuple[int, str] | None:
    try:
        recorded = manifest["ledger_head"] if manifest else None
        return (int(recorded["seq"]), str(recorded["entry_hash"])) if recorded else None
    except (KeyError, TypeError, ValueError):
        return None


class _Package:
    def __init__(self, zf: zipfile.ZipFile, outcome: Outcome) -> None:
        self.zf = zf
        self.outcome = outcome
        self.actual: dict[str, tuple[str, int]] = {}  # SHA-256 and size of each readable member
        self.names: dict[str, int] = {}

    def problem(self, text: str) -> None:
        self.outcome.problems.append(text)

    def run(self) -> None:
        for name in self.zf.namelist():
            self.names[name] = self.names.get(name, 0) + 1
        for name, times in sorted(self.names.items()):
            if times > 1:
                self.problem(f"{name}: appears {times} times in the zip")
        self.hash_members()
        self.check_sums()
        self.check_manifest()
        self.outcome.files = len(self.actual)

    def present(self, name: str, why: str) -> bool:
        if name in self.actual:
            return True
        if name not in self.names:
            self.problem(f"{name}: {why}, but missing from the zip")
        return False

    def hash_members(self) -> None:
        for info in self.zf.infolist():
            if info.is_dir():
                continue
            digest = hashlib.sha256()
            size = 0
            try:
                with self.zf.open(info) as member:
                    for chunk in iter(lambda: member.read(_CHUNK), b""):
                        digest.update(chunk)
                        size += len(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                self.problem(f"{info.filename}: damaged, cannot be read ({exc})")
                continue
            self.actual[info.filename] = (digest.hexdigest(), size)

    def check_sums(self) -> None:
        if not self.present(SUMS, "required"):
            return
        listed = set()
        text = self.zf.read(SUMS).decode("utf-8", "replace")
        for number, line in enumerate(text.splitlines(), 1):
            found = _SUM_LINE.match(line)
            if not found:
                self.problem(f"{SUMS} line {number} is not '<sha256>  <file>': {line!r}")
                continue
            expected, name = found.groups()
            listed.add(name)
            if self.present(name, f"listed in {SUMS}") and self.actual[name][0] != expected:
                self.problem(f"{name}: SHA-256 {self.actual[name][0]} differs from {SUMS} ({expected})")
        for name in sorted(set(self.actual) - listed - {SUMS}):
            self.problem(f"{name}: not listed in {SUMS}")

    def check_manifest(self) -> None:
        if not self.present(MANIFEST, "required"):
            return
        try:
            data = json.loads(self.zf.read(MANIFEST).decode("utf-8"))
        except ValueError as exc:
            self.problem(f"{MANIFEST}: not valid JSON ({exc})")
            return
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("kind") != KIND:
            self.problem(f"{MANIFEST}: not the manifest of a mailvault evidence package")
            return
        self.outcome.manifest = data
        try:
            self.check_files(data)
            self.check_messages(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.problem(f"{MANIFEST}: malformed ({type(exc).__name__}: {exc})")

    def compare(self, name: str, sha256: str, size: int, what: str) -> None:
        if self.present(name, f"named by {what}") and self.actual[name] != (sha256, size):
            self.problem(f"{name}: SHA-256 or size differs from {what}")

    def check_files(self, data: dict[str, Any]) -> None:
        named = set()
        for item in data["files"]:
            named.add(item["path"])
            self.compare(item["path"], item["sha256"], int(item["size"]), MANIFEST)
        for name in sorted(set(self.actual) - named - {MANIFEST, SUMS}):
            self.problem(f"{name}: not listed in {MANIFEST}")

    def check_messages(self, data: dict[str, Any]) -> None:
        messages = data["messages"]
        if data["count"] != len(messages):
            self.problem(f"{MANIFEST}: count {data['count']} but {len(messages)} messages listed")
        recorded = _recorded_head(data)
        if recorded is None:
            self.problem(f"{MANIFEST}: no ledger head recorded")
        sealed: dict[int, dict[str, Any]] = {}
        for number, message in enumerate(messages, 1):
            what = f"message {number} (archive id {message['archive_id']})"
            self.compare(message["file"], message["sha256"], int(message["size"]), f"{what} in {MANIFEST}")
            entry = self.check_entry(message, what)
            if entry is not None:
                sealed[int(entry["seq"])] = entry
        if recorded is not None:
            self.check_links(sealed, recorded)
        self.outcome.messages = len(messages)

    def check_entry(self, message: dict[str, Any], what: str) -> dict[str, Any] | None:
        """The message's ledger entry: its hash recomputed, and the bytes it commits to."""
        entry = message.get("ledger")
        if not isinstance(entry, dict):
            self.problem(f"{message['file']}: {what} has no ledger entry in {MANIFEST}")
            return None
        seq = int(entry["seq"])
        label = f"ledger entry #{seq} of {message['file']}"
        recomputed = entry_hash(seq, entry["kind"], entry["ref"], entry["prev_hash"], entry["payload"])
        if recomputed != entry["entry_hash"]:
            self.problem(
                f"{label}: its hash is {recomputed}, not the recorded {entry['entry_hash']}: altered"
            )
        if entry["kind"] != "arrival":
            self.problem(f"{label}: kind {entry['kind']!r}, not an arrival")
        try:
            source = json.loads(entry["payload"])["source"]
            sealed, source_key, archive_id = source["sha256"], source["source_key"], source["archive_id"]
        except (ValueError, KeyError, TypeError):
            self.problem(f"{label}: its payload does not describe an arrival")
            return entry
        actual = self.actual.get(message["file"], ("", 0))[0]
        if sealed != actual or sealed != message["sha256"]:
            self.problem(f"{label}: seals SHA-256 {sealed}, but the file's is {actual or '(unreadable)'}")
        if source_key != entry["ref"] or archive_id != message["archive_id"]:
            self.problem(f"{label}: seals an arrival of another message")
        return entry

    def check_links(self, sealed: dict[int, dict[str, Any]], recorded: tuple[int, str]) -> None:
        """What the package alone can say about the chain: no entry is after the recorded head, an
        entry that is the head has its hash, and entries that are neighbours in the chain link up."""
        for seq, entry in sorted(sealed.items()):
            if seq > recorded[0]:
                self.problem(
                    f"ledger entry #{seq}: after the ledger head #{recorded[0]} recorded in {MANIFEST}"
                )
            if seq == recorded[0] and entry["entry_hash"] != recorded[1]:
                self.problem(f"ledger entry #{seq}: is the recorded ledger head, but its hash differs")
            before = GENESIS if seq == 1 else sealed.get(seq - 1, {}).get("entry_hash")
            if before is not None and entry["prev_hash"] != before:
                self.problem(f"ledger entry #{seq}: does not follow entry #{seq - 1} of the package")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="verify_evidence.py",
        description="Check a mailvault evidence package offline, with Python's standard library only.",
    )
    parser.add_argument("package", help="the evidence package (.zip)")
    parser.add_argument(
        "--head",
        metavar="SEQ:HASH",
        help="a ledger head kept outside the archive (printed, mailed or time-stamped) to compare with",
    )
    args = parser.parse_args(argv)
    head = None
    if args.head is not None:
        try:
            head = parse_head(args.head)
        except ValueError as exc:
            parser.error(f"--head: {exc}")
    outcome = check(args.package, head)
    for line in outcome.lines():
        print(line)
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
