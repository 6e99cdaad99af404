"""Conversation threads: which messages belong together, across mailboxes and sources.

Grouping is incremental, in archive order, so it can run as messages arrive (the indexer calls
assign() before indexing a batch). Every Message-ID a message has or refers to (In-Reply-To,
References) is a link; messages that share a link are one thread (the connected components of
JWZ's id table; thread_links maps each id to its thread). A message that arrives before its
parent is joined when the parent arrives, because the child's references named it; two threads
that a message shows to be one are merged. Only a message with no known link falls back to its
subject: a reply or forward prefix in any of the usual languages (Re, AW, SV, 回复, 答复, 转发,
回覆, 轉寄 …), the same base subject, a shared participant, and at most SUBJECT_WINDOW apart.

Thread ids are the archive id of a thread's first message. Threads are derived data, rebuilt
from the messages if ever lost; the archived messages themselves are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailvault.archive.db import Database
from mailvault.archive.models import Message, Participant, ThreadLink
from mailvault.index.analysis import fold

SUBJECT_WINDOW = timedelta(days=90)

# Reply and forward prefixes: English and the Latin-script forms mail clients write in other
# languages (AW/WG German, SV/VS Nordic, RIF/I Italian, TR French …), and Chinese ones. Folding
# has already made colons and brackets half-width and traditional characters simplified.
_REPLY = (
    r"(?:re|fw|fwd|aw|wg|sv|vs|antw|doorst|rif|r|tr|enc|res|odp|pd|ynt|ilt|vb|回复|答复|回覆|转发|转寄|转)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*:"
)
_PREFIX = re.compile(rf"^\s*{_REPLY}\s*", re.IGNORECASE)
# A mailing list's tag before a reply prefix ("[erofs-dev] Re: …") goes; a tag that is part of
# the subject ("[PATCH v2] …") stays: another version of a patch is another conversation.
_LIST_TAG = re.compile(rf"^\s*\[[^\]]*\]\s*(?={_REPLY})", re.IGNORECASE)


def subject_key(subject: str) -> tuple[str, bool]:
    """The subject without reply/forward prefixes (and list tags before them), folded; and
    whether it had a reply or forward prefix."""
    text = fold(subject or "")
    replied = False
    while True:
        if match := _PREFIX.match(text):
            replied = True
        elif not (match := _LIST_TAG.match(text)):
            break
        text = text[match.end() :]
    return " ".join(text.split())[:255], replied


@dataclass(frozen=True, slots=True)
class Assignment:
    threaded: list[int]  # the messages given a thread now
    moved: list[int]  # messages threaded earlier whose thread changed (merged into another)


def assign(db: Database, archive_ids: Sequence[int]) -> Assignment:
    """Give each of these messages (in archive order) a thread, merging threads they join.
    Messages that already have one are left as they are, so a repeated call changes nothing."""
    threaded: list[int] = []
    moved: list[int] = []
    with db.writing() as session:
        messages = session.scalars(
            select(Message)
            .where(Message.archive_id.in_(archive_ids), Message.thread_id.is_(None))
            .order_by(Message.archive_id)
        ).all()
        for message in messages:
            moved += _thread_one(session, message)
            threaded.append(message.archive_id)
    return Assignment(threaded, sorted(set(moved) - set(threaded)))


def _links(message: Message) -> list[str]:
    ids = [message.message_id, message.in_reply_to, *message.reference_ids.split()]
    return list(dict.fromkeys(i[:998] for i in ids if i))


def _thread_one(session: Session, message: Message) -> list[int]:
    links = _links(message)
    known: dict[str, int] = {}
    if links:
        rows = session.execute(
            select(ThreadLink.message_ref, ThreadLink.thread_id).where(ThreadLink.message_ref.in_(links))
        )
        known = {ref: thread for ref, thread in rows}
    threads = set(known.values())
    key, replied = subject_key(message.subject)
    message.subject_key = key
    if not threads and replied and key:
        found = _thread_by_subject(session, message, key)
        if found is not None:
            threads = {found}
    moved: list[int] = []
    if not threads:
        thread = message.archive_id
    else:
        thread = min(threads)
        for other in threads - {thread}:
            moved += _merge(session, other, thread)
    message.thread_id = thread
    for link in links:
        if link not in known:
            session.add(ThreadLink(message_ref=link, thread_id=thread))
    session.flush()
    return moved


def _thread_by_subject(session: Session, message: Message, key: str) -> int | None:
    """The thread of an earlier (or nearly simultaneous) message with the same base subject and a
    participant in common."""
    when = message.date or message.archived_at
    candidates = session.execute(
        select(Message.archive_id, Message.thread_id)
        .where(
            Message.subject_key == key,
            Message.thread_id.is_not(None),
            Message.archive_id != message.archive_id,
            Message.date.between(when - SUBJECT_WINDOW, when + SUBJECT_WINDOW),
        )
        .order_by(Message.archive_id.desc())
        .limit(50)
    ).all()
    if not candidates:
        return None
    people = _addresses(session, [message.archive_id])
    for archive_id, thread_id in candidates:
        if thread_id is not None and people & _addresses(session, [archive_id]):
            return int(thread_id)
    return None


def _addresses(session: Session, archive_ids: Iterable[int]) -> set[str]:
    rows = session.scalars(
        select(Participant.address).where(
            Participant.archive_id.in_(list(archive_ids)), Participant.address != ""
        )
    )
    return set(rows)


def _merge(session: Session, source: int, target: int) -> list[int]:
    """Move every message and link of thread `source` into `target`; return the messages moved."""
    moved = list(session.scalars(select(Message.archive_id).where(Message.thread_id == source)))
    session.execute(update(Message).where(Message.thread_id == source).values(thread_id=target))
    session.execute(update(ThreadLink).where(ThreadLink.thread_id == source).values(thread_id=target))
    return moved
