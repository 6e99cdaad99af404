"""Exports that can serve as evidence: a zip of the exact stored bytes, a manifest.json describing
them, and a SHA256SUMS file that `sha256sum -c` checks offline with nothing but standard tools."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

from sqlalchemy import select

from mailvault import __version__
from mailvault.archive.export import write_mbox
from mailvault.archive.lookup import Reference
from mailvault.archive.models import Message
from mailvault.archive.store import Archive
from mailvault.errors import ArchiveError, NotFoundError

FORMAT = "mailvault-export"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
SUMS_NAME = "SHA256SUMS"
MBOX_NAME = "messages.mbox"
EVIDENCE_KIND = "evidence"  # mailvault.evidence: .eml files, a report, the ledger entries

_BATCH = 500  # ids looked up per query: few round trips, and no transaction held while streaming
_CHUNK = 1 << 20
_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One exported message: where it is in the zip and what the archive recorded about it."""

    archive_id: int
    file: str
    sha256: str  # of the original bytes: the name of the stored blob
    size: int
    message_id: str | None
    date: datetime | None  # UTC
    sender_address: str
    sender_name: str
    subject: str
    ledger: dict[str, Any] | None = None  # evidence packages: the ledger entry that sealed these bytes

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "archive_id": self.archive_id,
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "message_id": self.message_id,
            "date": _utc(self.date) if self.date else None,
            "from": {"address": self.sender_address, "name": self.sender_name},
            "subject": self.subject,
        }
        if self.ledger is not None:
            entry["ledger"] = self.ledger
        return entry


@dataclass(frozen=True, slots=True)
class FileSum:
    """A member of the zip that SHA256SUMS covers."""

    path: str
    sha256: str
    size: int


@dataclass(slots=True)
class Manifest:
    """What an export holds; `as_dict()` is the manifest.json written into the zip."""

    kind: str  # "eml": one file per message; "mbox": one messages.mbox; "evidence": eml plus a report
    title: str
    exported_by: str
    exported_at: datetime
    query: str
    entries: list[ManifestEntry] = field(default_factory=list)
    files: list[FileSum] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # kind-specific keys, written before "messages"

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def total_bytes(self) -> int:
        """Size of the original messages, before any mbox framing."""
        return sum(e.size for e in self.entries)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "title": self.title,
            "exported_by": self.exported_by,
            "exported_at": _utc(self.exported_at),
            "query": self.query,
            "mailvault_version": __version__,
            "count": self.count,
            "total_bytes": self.total_bytes,
            **self.extra,
            "messages": [e.as_dict() for e in self.entries],
            "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in self.files],
        }


def write_zip(
    handle: IO[bytes],
    archive: Archive,
    archive_ids: Iterable[int],
    *,
    title: str,
    exported_by: str,
    query: str = "",
) -> Manifest:
    """Each message's first copy as messages/<archive_id>-<sha256[:12]>.eml, byte for byte.

    `handle` may be unseekable (a socket, a pipe): zipfile then writes data descriptors.
    """
    manifest = new_manifest("eml", title, exported_by, query)
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as zf:
        for meta, raw in stored_messages(archive, archive_ids):
            name = f"messages/{meta.archive_id}-{meta.sha256[:12]}.eml"
            zf.writestr(zip_member(name, meta.date or meta.archived_at), raw)
            manifest.entries.append(meta.entry(name))
            manifest.files.append(FileSum(name, meta.sha256, len(raw)))
        finish_zip(zf, manifest)
    return manifest


def write_mbox_zip(
    handle: IO[bytes],
    archive: Archive,
    archive_ids: Iterable[int],
    *,
    title: str,
    exported_by: str,
    query: str = "",
) -> Manifest:
    """The messages as one mboxrd messages.mbox (RFC 4155), for mail clients that import mbox."""
    manifest = new_manifest("mbox", title, exported_by, query)
    digest = hashlib.sha256()
    size = 0
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as zf:
        # The size is unknown until the end, so allow past 4 GiB from the start.
        with zf.open(zip_member(MBOX_NAME, manifest.exported_at), "w", force_zip64=True) as member:
            for meta, raw in stored_messages(archive, archive_ids):
                framed = io.BytesIO()
                write_mbox(framed, [(raw, Reference(meta.archive_id, meta.sha256))])
                chunk = framed.getvalue()
                member.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                manifest.entries.append(meta.entry(MBOX_NAME))
        manifest.files.append(FileSum(MBOX_NAME, digest.hexdigest(), size))
        finish_zip(zf, manifest)
    return manifest


class StoredMessage(NamedTuple):
    """A message's columns as exports describe it; its first stored copy is the blob `sha256`."""

    archive_id: int
    sha256: str
    size: int
    message_id: str | None
    date: datetime | None
    sender_addr: str
    sender_name: str
    subject: str
    archived_at: datetime

    def entry(self, file: str) -> ManifestEntry:
        return ManifestEntry(
            archive_id=self.archive_id,
            file=file,
            sha256=self.sha256,
            size=self.size,
            message_id=self.message_id,
            date=self.date,
            sender_address=self.sender_addr,
            sender_name=self.sender_name,
            subject=self.subject,
        )


def stored_messages(archive: Archive, archive_ids: Iterable[int]) -> Iterator[tuple[StoredMessage, bytes]]:
    """Each message's metadata and first stored copy, in the order asked, each id once.

    NotFoundError for an unknown id; ArchiveError for a stored copy that no longer matches its hash.
    """
    seen: set[int] = set()
    batch: list[int] = []
    for archive_id in archive_ids:
        if archive_id not in seen:
            seen.add(archive_id)
            batch.append(archive_id)
        if len(batch) >= _BATCH:
            yield from _batch(archive, batch)
            batch = []
    yield from _batch(archive, batch)


def _batch(archive: Archive, archive_ids: list[int]) -> Iterator[tuple[StoredMessage, bytes]]:
    if not archive_ids:
        return
    columns = [getattr(Message, name) for name in StoredMessage._fields]
    with archive.db.reading() as session:
        rows = session.execute(select(*columns).where(Message.archive_id.in_(archive_ids))).all()
    found = {row[0]: StoredMessage(*row) for row in rows}
    for archive_id in archive_ids:
        meta = found.get(archive_id)
        if meta is None:
            raise NotFoundError(f"no archived message has id {archive_id}; it cannot be exported")
        raw = archive.blobs.get(meta.sha256)
        # Evidence must be what was received: refuse a stored copy that no longer matches its name.
        if hashlib.sha256(raw).hexdigest() != meta.sha256:
            raise ArchiveError(
                f"stored copy {meta.sha256} of message {archive_id} no longer matches its SHA-256; "
                "run `mailvault verify` and restore it from backup"
            )
        yield meta, raw


def new_manifest(kind: str, title: str, exported_by: str, query: str) -> Manifest:
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    return Manifest(kind=kind, title=title, exported_by=exported_by, exported_at=now, query=query)


def finish_zip(zf: zipfile.ZipFile, manifest: Manifest) -> None:
    """manifest.json, then SHA256SUMS over every other member (manifest.json included)."""
    data = (json.dumps(manifest.as_dict(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    zf.writestr(zip_member(MANIFEST_NAME, manifest.exported_at), data)
    sums = [*manifest.files, FileSum(MANIFEST_NAME, hashlib.sha256(data).hexdigest(), len(data))]
    # GNU sha256sum's text-mode line: hash, two spaces, path (our paths need no escaping).
    text = "".join(f"{s.sha256}  {s.path}\n" for s in sums)
    zf.writestr(zip_member(SUMS_NAME, manifest.exported_at), text.encode("ascii"))


def zip_member(name: str, when: datetime) -> zipfile.ZipInfo:
    # Zip dates are DOS dates: 1980 to 2107 only.
    stamp = max(datetime(1980, 1, 1), min(when.replace(tzinfo=None), datetime(2107, 12, 31)))
    info = zipfile.ZipInfo(name, stamp.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED  # a ZipInfo given to writestr/open keeps its own type
    info.create_system = 3  # Unix, so that unzip applies the mode below
    info.external_attr = 0o644 << 16
    return info


def _utc(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat() + "Z"


# -- Checking an export again, offline.

_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


def verify_zip(source: Path | str | IO[bytes]) -> list[str]:
    """Re-hash every member against SHA256SUMS and manifest.json; the problems found, or [].

    `source` is a path or a seekable binary file (an upload, say).
    """
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        return [f"cannot read {getattr(source, 'name', source)} as a zip file: {exc}"]
    with zf:
        return _Check(zf).run()


class _Check:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.names = Counter(zf.namelist())
        self.problems: list[str] = []
        self.actual: dict[str, tuple[str, int]] = {}  # SHA-256 and size of each readable member

    def run(self) -> list[str]:
        for name, times in sorted(self.names.items()):
            if times > 1:
                self.problems.append(f"{name}: appears {times} times in the zip")
        self._hash_members()
        self._check_sums()
        self._check_manifest()
        return self.problems

    def _present(self, name: str, where: str) -> bool:
        """Whether `name` was read; a member absent from the zip is a problem (a damaged one already is)."""
        if name in self.actual:
            return True
        if name not in self.names:
            self.problems.append(f"{name}: {where}, but missing from the zip")
        return False

    def _hash_members(self) -> None:
        for info in self.zf.infolist():
            if info.is_dir():
                continue
            digest = hashlib.sha256()
            size = 0
            try:
                with self.zf.open(info) as member:
                    while chunk := member.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
            except _READ_ERRORS as exc:
                self.problems.append(f"{info.filename}: unreadable, damaged ({exc})")
                continue
            self.actual[info.filename] = (digest.hexdigest(), size)

    def _check_sums(self) -> None:
        if not self._present(SUMS_NAME, "required"):
            return
        listed: set[str] = set()
        text = self.zf.read(SUMS_NAME).decode("utf-8", "replace")
        for number, line in enumerate(text.splitlines(), 1):
            match = _SUM_LINE.match(line)
            if match is None:
                self.problems.append(f"{SUMS_NAME} line {number} is not `<sha256>  <path>`: {line!r}")
                continue
            expected, name = match.groups()
            listed.add(name)
            if self._present(name, f"listed in {SUMS_NAME}") and self.actual[name][0] != expected:
                self.problems.append(
                    f"{name}: SHA-256 {self.actual[name][0]} differs from {SUMS_NAME} ({expected})"
                )
        for name in sorted(set(self.actual) - listed - {SUMS_NAME}):
            self.problems.append(f"{name}: not listed in {SUMS_NAME}")

    def _check_manifest(self) -> None:
        if not self._present(MANIFEST_NAME, "required"):
            return
        try:
            data = json.loads(self.zf.read(MANIFEST_NAME))
            if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
                self.problems.append(f"{MANIFEST_NAME}: not a {FORMAT} version {FORMAT_VERSION} manifest")
                return
            self._check_manifest_data(data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.problems.append(f"{MANIFEST_NAME} is malformed ({type(exc).__name__}: {exc})")

    def _check_manifest_data(self, data: dict[str, Any]) -> None:
        entries: list[dict[str, Any]] = data["messages"]
        if data["count"] != len(entries):
            self.problems.append(f"{MANIFEST_NAME}: count {data['count']} but {len(entries)} messages listed")
        for item in data["files"]:
            self._compare(item["path"], (item["sha256"], item["size"]), MANIFEST_NAME)
        if data["kind"] in ("eml", EVIDENCE_KIND):
            for entry in entries:
                what = f"message {entry['archive_id']} in {MANIFEST_NAME}"
                self._compare(entry["file"], (entry["sha256"], entry["size"]), what)
        elif data["kind"] == "mbox":
            self._check_mbox(entries)
        else:
            self.problems.append(f"{MANIFEST_NAME}: unknown kind {data['kind']!r}")

    def _compare(self, name: str, expected: tuple[str, int], what: str) -> None:
        if self._present(name, f"named by {what}") and self.actual[name] != expected:
            self.problems.append(f"{name}: SHA-256 or size differs from {what}")

    def _check_mbox(self, entries: list[dict[str, Any]]) -> None:
        """Split messages.mbox back into messages and compare each with its manifest entry."""
        if not self._present(MBOX_NAME, f"named by {MANIFEST_NAME}"):
            return
        found = 0
        with self.zf.open(MBOX_NAME) as member:
            for found, raw in enumerate(split_mboxrd(member), 1):
                if found > len(entries):
                    continue
                entry = entries[found - 1]
                message = raw
                # write_mbox ends every message with a newline; one that had none got an extra one.
                if len(message) == entry["size"] + 1 and message.endswith(b"\n"):
                    message = message[:-1]
                if (hashlib.sha256(message).hexdigest(), len(message)) != (entry["sha256"], entry["size"]):
                    what = f"message {found} (id {entry['archive_id']})"
                    self.problems.append(f"{MBOX_NAME}: {what} differs from {MANIFEST_NAME}")
        if found != len(entries):
            self.problems.append(f"{MBOX_NAME}: holds {found} messages, {MANIFEST_NAME} lists {len(entries)}")


def split_mboxrd(stream: IO[bytes]) -> Iterator[bytes]:
    """The messages of an mboxrd stream as write_mbox framed them, one at a time, `>From ` un-escaped."""
    lines: list[bytes] = []
    started = False
    for line in stream:
        if line.startswith(b"From "):
            if started or lines:
                yield _unframe(lines)
            lines = []
            started = True
        else:
            lines.append(line)
    if started or lines:
        yield _unframe(lines)


def _unframe(lines: list[bytes]) -> bytes:
    body = b"".join(lines)
    if body.endswith(b"\n"):
        body = body[:-1]  # the blank line write_mbox puts after each message
    return _ESCAPED_FROM.sub(rb"\1", body)
