"""Building an evidence package: the selected messages as .eml (exact stored bytes), the report in
HTML and PDF, a manifest tying each message to the ledger entry that sealed it, SHA256SUMS, and the
stand-alone checker, all in one zip. The zip itself is mailvault.archive.bundle's export format."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import select

from mailvault.archive.bundle import (
    EVIDENCE_KIND,
    FileSum,
    Manifest,
    finish_zip,
    new_manifest,
    stored_messages,
    zip_member,
)
from mailvault.archive.models import Message, Participant, Role, Source
from mailvault.archive.store import Archive
from mailvault.durable import describe_write_error, fsync_dir
from mailvault.errors import ArchiveError, MailvaultError
from mailvault.evidence.report import MessageLine, Report, completed, render_html
from mailvault.ledger.chain import EntryKind, Head, head, verify_entry
from mailvault.ledger.models import LedgerEntry

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
CHECKER_NAME = "verify_evidence.py"
CHECKER_SOURCE = Path(__file__).with_name("checker.py")

_CHUNK = 500  # ids per IN (...): under SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class PackageResult:
    """What was packaged. `sha256` names the zip itself: record it (audit trail, handover) to pin it."""

    manifest: Manifest
    report: Report  # as packaged, with the messages section and the integrity facts
    ledger_head: Head
    sha256: str
    size: int
    path: Path | None  # where it was written, when `out` was a path

    @property
    def count(self) -> int:
        return self.manifest.count


def build_package(
    archive: Archive,
    archive_ids: Iterable[int],
    report: Report,
    out: Path | IO[bytes],
    *,
    built_by: str,
    query: str = "",
) -> PackageResult:
    """Write the evidence package of `archive_ids` (in that order, each once) to `out`.

    A path is written beside itself and renamed when complete, so a failed build leaves nothing
    that looks like a package. NotFoundError for an unknown id; ArchiveError when a stored copy
    or its ledger entry no longer matches, or a message was never sealed in the ledger.
    """
    ids = list(dict.fromkeys(archive_ids))
    if not ids:
        raise MailvaultError("an evidence package needs at least one message; none was selected")
    if isinstance(out, Path):
        return _to_path(archive, ids, report, out, built_by=built_by, query=query)
    return _write(archive, ids, report, out, built_by=built_by, query=query, path=None)


def _to_path(
    archive: Archive, ids: list[int], report: Report, path: Path, *, built_by: str, query: str
) -> PackageResult:
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as handle:
            result = _write(archive, ids, report, handle, built_by=built_by, query=query, path=path)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
        fsync_dir(path.parent)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise MailvaultError(describe_write_error(exc, f"write {path.name}", path.parent)) from exc
        raise
    return result


def _write(
    archive: Archive,
    ids: list[int],
    report: Report,
    handle: IO[bytes],
    *,
    built_by: str,
    query: str,
    path: Path | None,
) -> PackageResult:
    sealed, recipients = _sealed_entries(archive, ids)
    with archive.db.reading() as session:
        # Read after the entries: the ledger only grows, so this head is at or after every one of them.
        chain_head = head(session)
    manifest = new_manifest(EVIDENCE_KIND, report.title, built_by, query)
    manifest.extra = {
        "employee": report.employee,
        "language": report.language,
        "ledger_head": {"seq": chain_head.seq, "entry_hash": chain_head.entry_hash},
        "report": {"html": REPORT_HTML, "pdf": REPORT_PDF},
        "checker": CHECKER_NAME,
    }
    lines: list[MessageLine] = []
    width = max(3, len(str(len(ids))))
    sink = _Digesting(handle)
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
        for number, (meta, raw) in enumerate(stored_messages(archive, ids), 1):
            entry = sealed[meta.archive_id]
            name = f"messages/{number:0{width}d}-{meta.archive_id}.eml"
            zf.writestr(zip_member(name, meta.date or meta.archived_at), raw)
            manifest.entries.append(replace(meta.entry(name), ledger=_entry_dict(entry)))
            manifest.files.append(FileSum(name, meta.sha256, len(raw)))
            sender = f"{meta.sender_name} <{meta.sender_addr}>" if meta.sender_name else meta.sender_addr
            lines.append(
                MessageLine(
                    meta.date,
                    sender,
                    ", ".join(recipients.get(meta.archive_id, [])),
                    meta.subject,
                    meta.size,
                    meta.sha256,
                    entry.seq,
                )
            )
        packaged = completed(report, lines, (chain_head.seq, chain_head.entry_hash))
        html = render_html(packaged).encode("utf-8")
        for name, data in (
            (REPORT_HTML, html),
            (REPORT_PDF, _pdf(packaged)),
            (CHECKER_NAME, CHECKER_SOURCE.read_bytes()),
        ):
            zf.writestr(zip_member(name, manifest.exported_at), data)
            manifest.files.append(FileSum(name, hashlib.sha256(data).hexdigest(), len(data)))
        finish_zip(zf, manifest)
    return PackageResult(manifest, packaged, chain_head, sink.hexdigest(), sink.size, path)


def _entry_dict(entry: LedgerEntry) -> dict[str, Any]:
    """The ledger entry in full; `payload` is the exact text its hash covers."""
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "ref": entry.ref,
        "at": entry.at.isoformat(),
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
        "payload": entry.payload,
    }


def _sealed_entries(archive: Archive, ids: list[int]) -> tuple[dict[int, LedgerEntry], dict[int, list[str]]]:
    """For each message, the ARRIVAL entry that sealed its first stored copy; and its To/Cc."""
    sealed: dict[int, LedgerEntry] = {}
    recipients: dict[int, list[str]] = {}
    with archive.db.reading() as session:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = session.execute(
                select(Message.archive_id, Message.sha256, LedgerEntry)
                .join(Source, (Source.archive_id == Message.archive_id) & (Source.sha256 == Message.sha256))
                .join(
                    LedgerEntry,
                    (LedgerEntry.kind == EntryKind.ARRIVAL.value) & (LedgerEntry.ref == Source.source_key),
                )
                .where(Message.archive_id.in_(chunk))
                .order_by(LedgerEntry.seq)
            ).all()
            for archive_id, sha256, entry in rows:
                if archive_id not in sealed and _seals(entry, sha256):
                    sealed[archive_id] = entry
            people = session.execute(
                select(Participant.archive_id, Participant.role, Participant.name, Participant.address)
                .where(
                    Participant.archive_id.in_(chunk), Participant.role.in_([Role.TO.value, Role.CC.value])
                )
                .order_by(Participant.archive_id, Participant.role.desc(), Participant.participant_id)
            ).all()
            for archive_id, role, name, address in people:
                shown = f"{name} <{address}>" if name else address
                prefix = "Cc: " if role == Role.CC.value else ""
                recipients.setdefault(archive_id, []).append(prefix + shown)
            known = set(session.scalars(select(Message.archive_id).where(Message.archive_id.in_(chunk))))
            for archive_id in chunk:
                if archive_id in known and archive_id not in sealed:
                    raise ArchiveError(
                        f"message {archive_id} has no ledger entry sealing its stored copy (archived before "
                        "the ledger existed?); it cannot go into an evidence package"
                    )
    return sealed, recipients


def _seals(entry: LedgerEntry, sha256: str) -> bool:
    """Whether `entry` is intact and commits to the bytes `sha256`; a damaged entry is an error."""
    if not verify_entry(entry):
        raise ArchiveError(
            f"ledger entry #{entry.seq} no longer matches its hash; run `mailvault ledger verify` "
            "before building evidence"
        )
    try:
        payload = json.loads(entry.payload)
        return bool(payload["source"]["sha256"] == sha256)
    except (ValueError, KeyError, TypeError):
        return False


class _Digesting:
    """Passes the zip through to `target`, hashing it. It cannot tell or seek, so zipfile never
    rewrites what it wrote (it uses data descriptors) and the hash is of exactly the bytes delivered."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: ReadableBuffer) -> int:
        chunk = bytes(data)
        self._target.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        raise io.UnsupportedOperation("not seekable")

    def flush(self) -> None:
        self._target.flush()

    def close(self) -> None:
        """The caller's handle stays open: closing it is the caller's business."""

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def _pdf(report: Report) -> bytes:
    # reportlab takes a quarter of a second to import: only when a package is built, not in
    # every `mailvault` command and worker.
    from mailvault.evidence.pdf import render_pdf

    return render_pdf(report)
