"""What the index holds for one archived message, read from the archive (rows and raw bytes).

The index stores nothing large: the text is analysed, not stored; snippets come from the archive.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from mailvault.archive.blobs import BlobStore
from mailvault.archive.db import Database
from mailvault.archive.models import Attachment, Message, Participant, Role, Source
from mailvault.errors import ArchiveError
from mailvault.mime import parse_message

log = logging.getLogger(__name__)

FieldTokens = tuple[list[str], list[int]]  # a text field's analysed tokens and their positions

# The envelope sender counts as from:; envelope recipients who are in neither To nor Cc (Bcc
# recipients, list members) count as bcc:.
_ROLE_GROUPS = {
    Role.FROM: ("from",),
    Role.SENDER: ("from",),
    Role.ENVELOPE_FROM: ("from",),
    Role.TO: ("to",),
    Role.CC: ("cc",),
    Role.BCC: ("bcc",),
    Role.ENVELOPE_TO: ("envelope_to",),
    Role.REPLY_TO: (),
}


@dataclass(slots=True)
class IndexDocument:
    archive_id: int
    date: datetime  # the Date header, or the archival time when it has none (UTC)
    size: int
    direction: str
    subject: str = ""
    body: str = ""
    attachments: list[str] = field(default_factory=list)
    role_names: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # display names
    addresses: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # from/to/cc/bcc
    owners: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)  # smtp, imap, file
    thread_id: int | None = None
    tokens: dict[str, FieldTokens] | None = None  # analysed text fields, when prepared ahead

    @property
    def has_attachment(self) -> bool:
        return bool(self.attachments)

    def domains(self) -> set[str]:
        """Every participant's domain and its parents (mail.huawei.com, huawei.com), not TLDs."""
        found: set[str] = set()
        for addrs in self.addresses.values():
            for addr in addrs:
                found.update(domain_and_parents(addr.rpartition("@")[2]))
        return found


def domain_and_parents(domain: str) -> list[str]:
    labels = domain.strip(".").lower().split(".") if domain else []
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def load_documents(db: Database, blobs: BlobStore, archive_ids: Sequence[int]) -> list[IndexDocument]:
    """Index documents for the given messages; ids not (yet) in the archive are left out."""
    if not archive_ids:
        return []
    with db.reading() as session:
        messages = session.scalars(select(Message).where(Message.archive_id.in_(archive_ids))).all()
        docs = {
            m.archive_id: IndexDocument(
                archive_id=m.archive_id,
                date=m.date or m.archived_at,
                size=m.size,
                direction=m.direction,
                subject=m.subject,
                thread_id=m.thread_id,
            )
            for m in messages
        }
        raw_of = {m.archive_id: m.sha256 for m in messages}
        ids = list(docs)
        for p in session.scalars(select(Participant).where(Participant.archive_id.in_(ids))):
            doc = docs[p.archive_id]
            for group in _ROLE_GROUPS.get(Role(p.role), ()):
                if p.address:
                    doc.addresses[group].add(p.address)
                if p.name and p.name not in doc.role_names[group]:
                    doc.role_names[group].append(p.name)
        for a in session.scalars(select(Attachment).where(Attachment.archive_id.in_(ids))):
            if a.filename and not a.inline:
                docs[a.archive_id].attachments.append(a.filename)
        for s in session.scalars(select(Source).where(Source.archive_id.in_(ids))):
            doc = docs[s.archive_id]
            if s.owner:
                doc.owners.add(s.owner.lower())
            if s.folder:
                doc.folders.add(s.folder)
            doc.sources.add(s.kind)
    for doc in docs.values():
        _envelope_only_recipients_are_bcc(doc)
        doc.body = _body_text(blobs, raw_of[doc.archive_id])
    return [docs[i] for i in archive_ids if i in docs]


def _envelope_only_recipients_are_bcc(doc: IndexDocument) -> None:
    envelope = doc.addresses.pop("envelope_to", set())
    doc.role_names.pop("envelope_to", None)
    doc.addresses["bcc"] |= envelope - doc.addresses["to"] - doc.addresses["cc"]


def _body_text(blobs: BlobStore, sha256: str) -> str:
    """The message's text as the archive parses it (the same parser as at ingest). A missing or
    damaged blob (`mailvault verify` reports it) leaves the message findable by its metadata."""
    try:
        raw = blobs.get(sha256)
    except ArchiveError as exc:
        log.warning("indexing without the body text: %s", exc)
        return ""
    return parse_message(raw).text
