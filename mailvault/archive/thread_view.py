"""A conversation as a tree: who answered whom, in order (the shape of JWZ's container tree).

Each message hangs under its nearest ancestor in the thread: In-Reply-To, else the last of its
References that is archived (a missing middle message does not break the tree). Messages with
none (the first message, or ones joined by subject) are roots. Siblings are in date order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from mailvault.archive.db import Database
from mailvault.archive.models import Message


@dataclass
class ThreadNode:
    archive_id: int
    date: datetime | None
    sender: str
    subject: str
    children: list[ThreadNode] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "archive_id": self.archive_id,
            "date": self.date.isoformat() if self.date else None,
            "from": self.sender,
            "subject": self.subject,
            "children": [c.as_dict() for c in self.children],
        }

    def walk(self, depth: int = 0) -> list[tuple[int, ThreadNode]]:
        rows = [(depth, self)]
        for child in self.children:
            rows += child.walk(depth + 1)
        return rows


def thread_of(db: Database, archive_id: int) -> list[ThreadNode]:
    """The roots of the conversation `archive_id` belongs to ([] if it has no thread yet)."""
    with db.reading() as session:
        thread_id = session.scalar(select(Message.thread_id).where(Message.archive_id == archive_id))
        if thread_id is None:
            return []
        messages = session.scalars(select(Message).where(Message.thread_id == thread_id)).all()
    by_id = {m.message_id: m for m in sorted(messages, key=lambda m: m.archive_id) if m.message_id}
    nodes = {
        m.archive_id: ThreadNode(
            m.archive_id,
            m.date,
            f"{m.sender_name} <{m.sender_addr}>" if m.sender_name else m.sender_addr,
            m.subject,
        )
        for m in messages
    }
    roots: list[ThreadNode] = []
    for message in messages:
        parent = _parent(message, by_id)
        if (
            parent is not None
            and parent.archive_id != message.archive_id
            and not _descends(parent, message, by_id)
        ):
            nodes[parent.archive_id].children.append(nodes[message.archive_id])
        else:
            roots.append(nodes[message.archive_id])
    for node in nodes.values():
        node.children.sort(key=_order)
    return sorted(roots, key=_order)


def _parent(message: Message, by_id: dict[str, Message]) -> Message | None:
    candidates = [message.in_reply_to, *reversed(message.reference_ids.split())]
    for ref in candidates:
        if ref and ref in by_id:
            return by_id[ref]
    return None


def _descends(ancestor: Message, message: Message, by_id: dict[str, Message]) -> bool:
    """True if `ancestor` is itself below `message` (broken mail can reference in circles)."""
    seen = {message.archive_id}
    current: Message | None = ancestor
    while current is not None:
        if current.archive_id in seen:
            return True
        seen.add(current.archive_id)
        current = _parent(current, by_id)
    return False


def _order(node: ThreadNode) -> tuple[datetime, int]:
    return (node.date or datetime.min, node.archive_id)
