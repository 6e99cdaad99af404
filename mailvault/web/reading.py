"""Everything the pages and the API read from the archive, in one place, so that both enforce
the same permissions and write the same audit records: check the reader's scope, record the
access, then return the data. A refused access is recorded too."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from mailvault.access import audit
from mailvault.access.audit import Action, Outcome
from mailvault.archive import lookup
from mailvault.archive.lookup import MessageRecord
from mailvault.archive.models import Message, Participant, Source
from mailvault.archive.thread_view import ThreadNode, thread_of
from mailvault.errors import NotFoundError
from mailvault.index.engine import Sort
from mailvault.index.search import SearchResults, search
from mailvault.mime.parse import parse_for_display
from mailvault.web.context import Forbidden, Viewer, WebState


def record(
    state: WebState,
    viewer: Viewer,
    action: Action,
    *,
    outcome: Outcome = Outcome.OK,
    target: str = "",
    query: str = "",
    count: int = 0,
    detail: dict[str, object] | None = None,
) -> None:
    audit.record(
        state.archive.db,
        username=viewer.user.username,
        action=action,
        address=viewer.address,
        outcome=outcome,
        target=target,
        query=query,
        count=count,
        detail=detail,
    )


def run_search(
    state: WebState, viewer: Viewer, query: str, *, sort: Sort, offset: int, limit: int
) -> SearchResults:
    with state.search as engine:
        found = search(
            state.archive,
            engine,
            query,
            sort=sort,
            offset=offset,
            limit=limit,
            restrict=viewer.scope.restrict,
        )
    # The index may be ahead of a grant being revoked a moment ago; the database decides.
    with state.archive.db.reading() as session:
        allowed = viewer.scope.visible(session, [r.archive_id for r in found.results])
    kept = [r for r in found.results if r.archive_id in allowed]
    record(
        state,
        viewer,
        Action.SEARCH,
        query=query,
        count=found.total,
        detail={"sort": str(sort), "offset": offset},
    )
    return SearchResults(found.query, found.sort, found.total, found.offset, kept)


def readable(state: WebState, viewer: Viewer, archive_id: int, action: Action, target: str = "") -> None:
    """Raise Forbidden (shown as not found) unless the viewer may read the message; audit either way."""
    with state.archive.db.reading() as session:
        exists = session.get(Message, archive_id) is not None
        allowed = exists and viewer.scope.may_read(session, archive_id)
    if not allowed:
        record(
            state,
            viewer,
            action,
            outcome=Outcome.DENIED,
            target=target or f"message {archive_id}",
            detail={"exists": exists},
        )
        raise Forbidden(f"message {archive_id}", hide=True)


def open_message(
    state: WebState, viewer: Viewer, archive_id: int, action: Action = Action.VIEW_MESSAGE
) -> MessageRecord:
    readable(state, viewer, archive_id, action)
    message = lookup.load(state.archive.db, archive_id)
    record(state, viewer, action, target=f"message {archive_id}", detail={"sha256": message.message.sha256})
    return message


def raw_bytes(state: WebState, viewer: Viewer, archive_id: int) -> tuple[MessageRecord, bytes]:
    readable(state, viewer, archive_id, Action.VIEW_RAW)
    message = lookup.load(state.archive.db, archive_id)
    record(
        state,
        viewer,
        Action.VIEW_RAW,
        target=f"message {archive_id}",
        detail={"sha256": message.message.sha256},
    )
    return message, state.archive.blobs.get(message.message.sha256)


@dataclass(frozen=True, slots=True)
class AttachmentFile:
    filename: str
    content_type: str
    data: bytes


def attachment(state: WebState, viewer: Viewer, archive_id: int, position: int) -> AttachmentFile:
    target = f"message {archive_id} attachment {position}"
    readable(state, viewer, archive_id, Action.DOWNLOAD, target)
    message = lookup.load(state.archive.db, archive_id)
    walker = parse_for_display(state.archive.blobs.get(message.message.sha256))
    if not 0 <= position < len(walker.contents):
        raise NotFoundError(f"message {archive_id} has no attachment {position}")
    found = walker.result.attachments[position]
    record(
        state,
        viewer,
        Action.DOWNLOAD,
        target=target,
        detail={"filename": found.filename, "sha256": found.sha256},
    )
    return AttachmentFile(
        found.filename or f"attachment-{position}", found.content_type, walker.contents[position]
    )


@dataclass(frozen=True, slots=True)
class Thread:
    roots: list[ThreadNode]
    hidden: int  # messages of the conversation the viewer may not read (left out)

    def messages(self) -> list[tuple[int, ThreadNode]]:
        return [row for root in self.roots for row in root.walk()]


def thread(state: WebState, viewer: Viewer, archive_id: int) -> Thread:
    readable(state, viewer, archive_id, Action.VIEW_THREAD, f"thread of message {archive_id}")
    roots = thread_of(state.archive.db, archive_id)
    if not roots:
        with state.archive.db.reading() as session:
            message = session.get(Message, archive_id)
            if message is None:
                raise NotFoundError(f"no archived message has id {archive_id}")
            roots = [ThreadNode(message.archive_id, message.date, message.sender_addr, message.subject)]
    every = [node.archive_id for root in roots for _, node in root.walk()]
    with state.archive.db.reading() as session:
        allowed = viewer.scope.visible(session, every)
    kept = _prune(roots, allowed)
    record(state, viewer, Action.VIEW_THREAD, target=f"thread of message {archive_id}", count=len(allowed))
    return Thread(kept, len(every) - len(allowed))


def _prune(nodes: list[ThreadNode], allowed: set[int]) -> list[ThreadNode]:
    """The tree without the messages not allowed; their replies move up to the nearest allowed
    ancestor, so the reading order stays."""
    kept: list[ThreadNode] = []
    for node in nodes:
        children = _prune(node.children, allowed)
        if node.archive_id in allowed:
            kept.append(ThreadNode(node.archive_id, node.date, node.sender, node.subject, children))
        else:
            kept.extend(children)
    return kept


def directions(state: WebState, archive_ids: list[int]) -> dict[int, str]:
    """Each message's direction, for conversation listings."""
    with state.archive.db.reading() as session:
        rows = session.execute(
            select(Message.archive_id, Message.direction).where(Message.archive_id.in_(archive_ids))
        ).all()
    return {row[0]: row[1] for row in rows}


def employees_in(state: WebState, archive_ids: list[int]) -> set[str]:
    """The company's people in these messages: addresses in a company domain, and mailbox owners."""
    domains = [d.lower().lstrip("@") for d in state.settings.archive.company_domains]
    found: set[str] = set()
    with state.archive.db.reading() as session:
        for start in range(0, len(archive_ids), 500):
            chunk = archive_ids[start : start + 500]
            if domains:
                rows = session.scalars(
                    select(Participant.address).where(
                        Participant.archive_id.in_(chunk),
                        Participant.role.in_(("from", "to", "cc", "bcc", "envelope_to")),
                        or_(
                            *[Participant.domain == d for d in domains],
                            *[Participant.domain.endswith("." + d) for d in domains],
                        ),
                    )
                )
                found.update(a for a in rows if a)
            found.update(
                o.lower()
                for o in session.scalars(select(Source.owner).where(Source.archive_id.in_(chunk)))
                if o
            )
    return found
