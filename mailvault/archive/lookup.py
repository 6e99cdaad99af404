"""Finding messages again: resolve what a person types (id, hash prefix, Message-ID) and load a
message with everything recorded about it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from mailvault.archive.db import Database
from mailvault.archive.models import Attachment, Blob, Message, Participant, Source
from mailvault.errors import NotFoundError

_HEX = re.compile(r"^[0-9a-f]{6,64}$")


@dataclass(frozen=True, slots=True)
class Reference:
    """A resolved reference: the message, and the exact copy meant (its first copy by default)."""

    archive_id: int
    sha256: str


def resolve(db: Database, text: str) -> Reference:
    """An archive id, a SHA-256 (or a unique prefix of at least 6 digits), or a Message-ID."""
    text = text.strip()
    with db.reading() as session:
        if text.isdigit():
            row = session.execute(
                select(Message.archive_id, Message.sha256).where(Message.archive_id == int(text))
            ).first()
            if row is not None:
                return Reference(row[0], row[1])
        lowered = text.lower()
        if _HEX.match(lowered):
            rows = session.execute(
                select(Blob.archive_id, Blob.sha256).where(Blob.sha256.startswith(lowered)).limit(2)
            ).all()
            if len(rows) == 1:
                return Reference(rows[0][0], rows[0][1])
            if len(rows) > 1:
                raise NotFoundError(f"{text!r} matches several stored copies; give more digits")
        message_id = text.strip("<>")
        rows = session.execute(
            select(Message.archive_id, Message.sha256)
            .where(Message.message_id == message_id)
            .order_by(Message.archive_id)
        ).all()
        if len(rows) == 1:
            return Reference(rows[0][0], rows[0][1])
        if len(rows) > 1:
            ids = ", ".join(str(r[0]) for r in rows)
            raise NotFoundError(f"Message-ID {message_id} belongs to messages {ids}; name one by id")
    raise NotFoundError(f"no archived message matches {text!r} (id, SHA-256 prefix or Message-ID)")


@dataclass(frozen=True, slots=True)
class MessageRecord:
    message: Message
    participants: list[Participant]
    attachments: list[Attachment]
    blobs: list[Blob]
    sources: list[Source]

    def as_dict(self) -> dict[str, Any]:
        m = self.message
        return {
            "archive_id": m.archive_id,
            "sha256": m.sha256,
            "size": m.size,
            "message_id": m.message_id,
            "date": m.date.isoformat() + "Z" if m.date else None,
            "subject": m.subject,
            "from": {"address": m.sender_addr, "name": m.sender_name},
            "direction": m.direction,
            "in_reply_to": m.in_reply_to,
            "references": m.reference_ids.split(),
            "attachment_count": m.attachment_count,
            "parse_status": m.parse_status,
            "parse_problems": m.parse_problems.splitlines(),
            "archived_at": m.archived_at.isoformat() + "Z",
            "participants": [
                {"role": p.role, "address": p.address, "name": p.name} for p in self.participants
            ],
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "sha256": a.sha256,
                    "inline": a.inline,
                    "encoding": a.encoding,
                }
                for a in self.attachments
            ],
            "copies": [
                {"sha256": b.sha256, "size": b.size, "stored_size": b.stored_size} for b in self.blobs
            ],
            "sources": [
                {
                    "kind": s.kind,
                    "origin": s.origin,
                    "folder": s.folder,
                    "owner": s.owner,
                    "uidvalidity": s.uidvalidity,
                    "uid": s.uid,
                    "flags": s.flags,
                    "sha256": s.sha256,
                    "arrived_at": s.arrived_at.isoformat() + "Z",
                    "vanished_at": s.vanished_at.isoformat() + "Z" if s.vanished_at else None,
                    "detail": s.detail,
                }
                for s in self.sources
            ],
        }


def load(db: Database, archive_id: int) -> MessageRecord:
    with db.reading() as session:
        message = session.get(Message, archive_id)
        if message is None:
            raise NotFoundError(f"no archived message has id {archive_id}")

        def rows(model: Any, order: Any) -> list[Any]:
            query = select(model).where(model.archive_id == archive_id).order_by(order)
            return list(session.scalars(query))

        return MessageRecord(
            message=message,
            participants=rows(Participant, Participant.participant_id),
            attachments=rows(Attachment, Attachment.position),
            blobs=rows(Blob, Blob.stored_at),
            sources=rows(Source, Source.source_id),
        )
