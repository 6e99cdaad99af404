"""The purge: the only code that deletes archived mail. It deletes what an enabled retention rule
has expired and no legal hold keeps, on behalf of an admin, and seals each deletion in the ledger.

A message's age is its Date header, or when it was archived if it has none: the same date search
sorts and filters by, and the date the business record carries (imported old mail is as old as it
says). Legal holds by query are answered by the search index, so the purge holds the index's
writer lock for its whole run (the indexer waits) and refuses to start while the index is behind
the archive; a message the index does not hold is never purged. Owner and customer holds are SQL.

Each batch is one database transaction that re-checks the user, the rules and the holds (a hold
placed during the run is seen: on PostgreSQL the batch first takes the ledger's lock, which hold
placement also takes), deletes the message's rows and appends one PURGE entry per message. After
the commit the blob files and index documents go. A crash in between leaves files and documents
whose messages are gone; every run first removes those (found through the PURGE entries), so a
purge is completed by the next one. The newest message is never purged: SQLite would give its
archive id to the next message.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select, union_all
from sqlalchemy.orm import Session

from mailvault.access import audit
from mailvault.access.audit import Action, Outcome
from mailvault.archive.arrival import utcnow
from mailvault.archive.models import Attachment, Blob, Message, Participant, Source, ThreadLink
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import SearchIndexError
from mailvault.index import indexer
from mailvault.index.engine import Engine, Sort
from mailvault.index.indexer import current_dir, open_engine, writer_lock
from mailvault.index.query import parse
from mailvault.ledger.chain import EntryKind, Seal, append
from mailvault.ledger.models import LedgerEntry
from mailvault.retention import match
from mailvault.retention.authority import ADMIN_ONLY, authorize, check_role
from mailvault.retention.holds import HoldInfo, active_holds
from mailvault.retention.rules import RuleInfo, active_rules

log = logging.getLogger(__name__)

BATCH = 500  # messages per transaction
_CHUNK = 500  # ids per IN (...) list

# Why an expired message was kept.
HELD = "held"  # a legal hold
NOT_INDEXED = "not indexed"  # not searchable yet: a query hold could not be checked
NEWEST = "newest message"  # SQLite would reuse its archive id
BLOB_SHARED = "blob shared"  # another message's rows name one of its blobs
NO_RULE = "no longer expired"  # its rule was disabled during the run


@dataclass
class RuleTally:
    rule: str
    keep_days: int
    expired: int = 0  # messages past keep_days that this rule (the oldest rule that expires them) names
    held: int = 0  # of these, kept by a legal hold
    kept: int = 0  # of these, kept for another reason (not indexed yet, the newest message …)
    purged: int = 0  # deleted; in a plan or a dry run, to be deleted

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "keep_days": self.keep_days,
            "expired": self.expired,
            "held": self.held,
            "kept": self.kept,
            "purged": self.purged,
        }


@dataclass
class PurgePlan:
    at: datetime  # ages are measured from here
    doomed: dict[int, str]  # archive id -> the rule that expired it: what a purge would delete
    kept: dict[int, str]  # expired but kept: archive id -> why (HELD, NOT_INDEXED, NEWEST)
    tallies: dict[str, RuleTally]

    @property
    def held(self) -> int:
        return sum(1 for why in self.kept.values() if why == HELD)


@dataclass
class PurgeReport:
    plan: PurgePlan
    dry_run: bool
    cancelled: bool = False
    purged: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # planned, kept at deletion time: why
    files_deleted: int = 0
    documents_deleted: int = 0
    recovered_files: int = 0  # left by an earlier purge that stopped after its commit
    recovered_documents: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.plan.at.isoformat(),
            "dry_run": self.dry_run,
            "cancelled": self.cancelled,
            "rules": [t.as_dict() for t in self.plan.tallies.values()],
            "would_purge": len(self.plan.doomed),
            "held": self.plan.held,
            "kept": len(self.plan.kept),
            "purged": len(self.purged),
            "skipped": len(self.skipped),
            "files_deleted": self.files_deleted,
            "documents_deleted": self.documents_deleted,
            "recovered_files": self.recovered_files,
            "recovered_documents": self.recovered_documents,
        }


def plan(settings: Settings, archive: Archive, *, now: datetime | None = None) -> PurgePlan:
    """The messages a purge would delete now, and those it would keep and why. Refuses (SearchIndexError)
    while the search index is behind the archive."""
    with _index(settings) as engine:
        return _plan_now(settings, archive, engine, _QueryHolds(engine), now or utcnow())


def purge(
    settings: Settings,
    archive: Archive,
    *,
    by: str,
    dry_run: bool = False,
    confirm: Callable[[PurgePlan], bool] | None = None,
    now: datetime | None = None,
    batch_size: int = BATCH,
) -> PurgeReport:
    """Delete what the plan names, batch by batch, on behalf of `by` (an enabled admin). `confirm`
    sees the plan first and may cancel. One audit event records the run, whatever its outcome."""
    user = authorize(archive.db, by, ADMIN_ONLY, "purge archived mail", Action.PURGE)
    at = now or utcnow()
    report = PurgeReport(PurgePlan(at, {}, {}, {}), dry_run)
    outcome = Outcome.FAILED
    try:
        with _index(settings) as engine:
            _run(settings, archive, engine, report, user, confirm, batch_size)
        outcome = Outcome.OK
        return report
    finally:
        _audit(archive, user, report, outcome)


def _run(
    settings: Settings,
    archive: Archive,
    engine: Engine | None,
    report: PurgeReport,
    user: str,
    confirm: Callable[[PurgePlan], bool] | None,
    batch_size: int,
) -> None:
    report.recovered_files, report.recovered_documents = _recover(archive, engine, dry_run=report.dry_run)
    query_holds = _QueryHolds(engine)
    report.plan = planned = _plan_now(settings, archive, engine, query_holds, report.plan.at)
    if report.dry_run or not planned.doomed:
        return
    if confirm is not None and not confirm(planned):
        report.cancelled = True
        return
    for tally in planned.tallies.values():
        tally.purged = 0  # from here on: what was deleted, not what was planned
    doomed = sorted(planned.doomed)
    for start in range(0, len(doomed), batch_size):
        _purge_batch(archive, engine, doomed[start : start + batch_size], report, query_holds, user)
    if report.documents_deleted and engine is not None:
        engine.optimize()  # merging drops the deleted documents' terms from the segments


# -- the index --------------------------------------------------------------------------


@contextmanager
def _index(settings: Settings) -> Iterator[Engine | None]:
    """The index in use (None before there is one), with its writer lock held: nothing is indexed
    while the purge decides and deletes, so what the index says stays what the archive holds."""
    root = settings.resolved_index_dir
    with writer_lock(root):
        directory = current_dir(root)
        engine = open_engine(directory) if directory is not None else None
        try:
            yield engine
        finally:
            if engine is not None:
                engine.close()


def _require_current_index(settings: Settings, archive: Archive, engine: Engine | None) -> None:
    found = indexer.status(archive, settings.resolved_index_dir)
    if engine is None and found.archived:
        raise SearchIndexError(
            "there is no search index, so legal holds by query cannot be checked: "
            "build it with `mailvault index update`, then purge again"
        )
    if found.waiting:
        raise SearchIndexError(
            f"the search index is {found.waiting} message(s) behind the archive and a legal hold's query "
            "could miss them; let the indexer catch up (`mailvault index update`), then purge again"
        )


class _QueryHolds:
    """What each query hold matches, asked of the index once per run (the index does not change
    while the purge holds its writer lock, apart from the purge's own deletions)."""

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self.found: dict[int, set[int]] = {}

    def held(self, holds: Sequence[HoldInfo]) -> set[int]:
        held: set[int] = set()
        for hold in holds:
            if not hold.query:
                continue
            if hold.hold_id not in self.found:
                self.found[hold.hold_id] = self._matches(hold.query)
            held |= self.found[hold.hold_id]
        return held

    def _matches(self, query: str) -> set[int]:
        if self.engine is None:
            return set()  # no index, no messages (_require_current_index)
        limit = max(self.engine.document_count(), 1)
        page = self.engine.search(parse(query), sort=Sort.DATE, offset=0, limit=limit)
        if page.total > len(page.hits):
            raise SearchIndexError("the search index changed during the purge; purge again")
        return {hit.archive_id for hit in page.hits}


# -- deciding ---------------------------------------------------------------------------


def _plan_now(
    settings: Settings, archive: Archive, engine: Engine | None, query_holds: _QueryHolds, now: datetime
) -> PurgePlan:
    with archive.db.reading() as session:
        rules = active_rules(session)
        tallies = {r.name: RuleTally(r.name, r.keep_days) for r in rules}
        if not rules:
            return PurgePlan(now, {}, {}, tallies)  # the default: every message is kept forever
        _require_current_index(settings, archive, engine)
        expired = _expired(session, rules, now)
        ids = sorted(expired)
        holds = active_holds(session)
        held = _held_in_sql(session, holds, ids) | query_holds.held(holds)
        newest = session.scalar(select(func.max(Message.archive_id)))
    indexed = engine.contains(ids) if engine is not None and ids else set()
    doomed: dict[int, str] = {}
    kept: dict[int, str] = {}
    for archive_id in ids:
        rule = expired[archive_id]
        tallies[rule].expired += 1
        if archive_id in held:
            kept[archive_id] = HELD
            tallies[rule].held += 1
        elif archive_id not in indexed:
            kept[archive_id] = NOT_INDEXED
        elif archive_id == newest:
            kept[archive_id] = NEWEST
        else:
            doomed[archive_id] = rule
            tallies[rule].purged += 1
            continue
        if kept[archive_id] != HELD:
            tallies[rule].kept += 1
    return PurgePlan(now, doomed, kept, tallies)


def _expired(
    session: Session, rules: Sequence[RuleInfo], now: datetime, among: Sequence[int] | None = None
) -> dict[int, str]:
    """Messages some rule has expired -> the oldest such rule; only those `among` when given."""
    expired: dict[int, str] = {}
    for rule in rules:
        query = _expired_query(rule, now)
        chunks = [None] if among is None else [among[i : i + _CHUNK] for i in range(0, len(among), _CHUNK)]
        for chunk in chunks:
            limited = query if chunk is None else query.where(Message.archive_id.in_(chunk))
            for archive_id in session.scalars(limited):
                expired.setdefault(archive_id, rule.name)
    return expired


def _expired_query(rule: RuleInfo, now: datetime) -> Select[int]:
    cutoff = now - timedelta(days=rule.keep_days)
    query = select(Message.archive_id).where(func.coalesce(Message.date, Message.archived_at) < cutoff)
    if rule.domain:
        query = query.where(Message.archive_id.in_(match.by_domain(rule.domain)))
    if rule.owner:
        query = query.where(Message.archive_id.in_(union_all(*match.by_owner(rule.owner))))
    return query


def _held_in_sql(session: Session, holds: Sequence[HoldInfo], among: Sequence[int]) -> set[int]:
    """Which of `among` an owner or customer hold keeps (any role counts, Reply-To included)."""
    parts: list[Select[Any]] = []
    for hold in holds:
        if hold.owner:
            parts += match.by_owner(hold.owner, roles=None)
        if hold.customer:
            parts.append(match.by_party(hold.customer, roles=None))
    if not parts or not among:
        return set()
    held: set[int] = set()
    for start in range(0, len(among), _CHUNK):
        chunk = among[start : start + _CHUNK]
        for part in parts:
            held.update(session.scalars(part.where(part.selected_columns[0].in_(chunk))))
    return held


# -- deleting ---------------------------------------------------------------------------


def _purge_batch(
    archive: Archive,
    engine: Engine | None,
    ids: list[int],
    report: PurgeReport,
    query_holds: _QueryHolds,
    user: str,
) -> None:
    """One transaction: re-check, delete the rows, seal each message. Then files and documents."""
    tallies = report.plan.tallies
    with archive.db.writing() as session:
        # On PostgreSQL this takes the ledger's lock before the holds are read: a hold being placed
        # now either committed already (and is read below) or commits after this batch.
        append(session, [])
        check_role(session, user, ADMIN_ONLY, "purge archived mail")
        expired = _expired(session, active_rules(session), report.plan.at, ids)
        holds = active_holds(session)
        held = _held_in_sql(session, holds, ids) | query_holds.held(holds)
        skipped: dict[int, str] = {}
        for archive_id in ids:
            if archive_id not in expired:
                skipped[archive_id] = NO_RULE
            elif archive_id in held:
                skipped[archive_id] = HELD
        purging = set(ids) - set(skipped)
        owned = _owned_blobs(session, purging)
        for archive_id in _sharing(session, owned, purging):
            skipped[archive_id] = BLOB_SHARED
            purging.discard(archive_id)
        if not purging:
            report.skipped.update(skipped)
            return
        chosen = sorted(purging)
        keys: dict[int, list[str]] = defaultdict(list)
        for archive_id, source_key in session.execute(
            select(Source.archive_id, Source.source_key).where(Source.archive_id.in_(chosen))
        ):
            keys[archive_id].append(source_key)
        hashes: dict[int, list[str]] = defaultdict(list)
        for sha256, archive_id in owned.items():
            if archive_id in purging:
                hashes[archive_id].append(sha256)
        links = _links_only_of(session, chosen)
        quiet = {"synchronize_session": False}
        for model in (Source, Attachment, Participant, Blob):
            session.execute(delete(model).where(model.archive_id.in_(chosen)), execution_options=quiet)
        for start in range(0, len(links), _CHUNK):
            chunk = links[start : start + _CHUNK]
            session.execute(
                delete(ThreadLink).where(ThreadLink.message_ref.in_(chunk)), execution_options=quiet
            )
        session.execute(delete(Message).where(Message.archive_id.in_(chosen)), execution_options=quiet)
        purged_at = utcnow().isoformat()
        rule_of = {i: expired[i] for i in chosen}
        seals = [
            Seal(
                EntryKind.PURGE,
                str(archive_id),
                {
                    "archive_id": archive_id,
                    "sha256s": sorted(hashes[archive_id]),
                    "source_keys": sorted(keys[archive_id]),
                    "rule": rule_of[archive_id],
                    "by": user,
                    "purged_at": purged_at,
                },
            )
            for archive_id in chosen
        ]
        append(session, seals)
    # Committed: from here on the messages are gone. What follows is repeated by the next run if
    # this one stops here (_recover).
    for archive_id, why in skipped.items():
        log.info("kept archive id %d at purge time: %s", archive_id, why)
    report.skipped.update(skipped)
    report.purged += chosen
    for archive_id in chosen:
        tallies[rule_of[archive_id]].purged += 1
    report.files_deleted += _delete_files(archive, [h for i in chosen for h in hashes[i]])
    if engine is not None:
        engine.delete(chosen)
        report.documents_deleted += len(chosen)
    log.info("purged %d message(s) by %s: archive ids %d-%d", len(chosen), user, chosen[0], chosen[-1])


def _owned_blobs(session: Session, archive_ids: set[int]) -> dict[str, int]:
    """The blobs (raw copies, journal wrappers) these messages own: sha256 -> archive id."""
    owned: dict[str, int] = {}
    ordered = sorted(archive_ids)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        owned.update(
            {
                sha: aid
                for sha, aid in session.execute(
                    select(Blob.sha256, Blob.archive_id).where(Blob.archive_id.in_(chunk))
                )
            }
        )
    return owned


def _sharing(session: Session, owned: dict[str, int], purging: set[int]) -> set[int]:
    """Messages to keep because a message that stays names one of their blobs (as an arrival's
    bytes or as its first copy). Keeping one can make another's blob shared, so repeat."""
    namers: list[tuple[int, str]] = []
    hashes = sorted(owned)
    for start in range(0, len(hashes), _CHUNK):
        chunk = hashes[start : start + _CHUNK]
        namers += session.execute(select(Source.archive_id, Source.sha256).where(Source.sha256.in_(chunk)))
        namers += session.execute(select(Message.archive_id, Message.sha256).where(Message.sha256.in_(chunk)))
    keep: set[int] = set()
    while True:
        named = {owned[sha] for archive_id, sha in namers if archive_id not in purging or archive_id in keep}
        added = (named & purging) - keep
        if not added:
            return keep
        keep |= added


def _links_only_of(session: Session, archive_ids: list[int]) -> list[str]:
    """Thread links (Message-IDs) that only these messages have or refer to. Messages sharing a link
    share a thread, so only the rest of their threads need looking at."""
    mine: set[str] = set()
    threads: set[int] = set()
    for message in session.scalars(select(Message).where(Message.archive_id.in_(archive_ids))):
        if message.thread_id is not None:  # unthreaded: it added no links
            mine.update(_message_links(message.message_id, message.in_reply_to, message.reference_ids))
            threads.add(message.thread_id)
    if not mine:
        return []
    others: set[str] = set()
    ordered = sorted(threads)
    for start in range(0, len(ordered), _CHUNK):
        rows = session.execute(
            select(Message.message_id, Message.in_reply_to, Message.reference_ids).where(
                Message.thread_id.in_(ordered[start : start + _CHUNK]), Message.archive_id.not_in(archive_ids)
            )
        )
        for message_id, in_reply_to, reference_ids in rows:
            others.update(_message_links(message_id, in_reply_to, reference_ids))
    return sorted(mine - others)


def _message_links(message_id: str | None, in_reply_to: str | None, reference_ids: str) -> list[str]:
    # As conversations._links: every Message-ID a message has or refers to.
    ids = [message_id, in_reply_to, *(reference_ids or "").split()]
    return [i[:998] for i in ids if i]


def _delete_files(archive: Archive, hashes: Sequence[str]) -> int:
    """Delete the blob files of these hashes that no blobs row names (any more). The check and the
    deletion happen inside a write transaction holding the ledger's lock, as ingest writes rows."""
    if not hashes:
        return 0
    with archive.db.writing() as session:
        append(session, [])
        named: set[str] = set()
        ordered = sorted(set(hashes))
        for start in range(0, len(ordered), _CHUNK):
            named.update(
                session.scalars(select(Blob.sha256).where(Blob.sha256.in_(ordered[start : start + _CHUNK])))
            )
        return len(archive.blobs.purge_blobs([h for h in ordered if h not in named]))


def _recover(archive: Archive, engine: Engine | None, *, dry_run: bool) -> tuple[int, int]:
    """Finish earlier purges that stopped after their commit: blob files and index documents of
    purged messages (named by the PURGE entries) that are still there. Returns (files, documents)
    removed, or found in a dry run. Repeating it changes nothing."""
    purged_ids: set[int] = set()
    hashes: set[str] = set()
    with archive.db.reading() as session:
        for (payload,) in session.execute(
            select(LedgerEntry.payload).where(LedgerEntry.kind == EntryKind.PURGE.value)
        ):
            data = json.loads(payload)
            purged_ids.add(int(data["archive_id"]))
            hashes.update(data["sha256s"])
        present = {h for h in hashes if archive.blobs.exists(h)}
        archived = session.scalar(select(func.count()).select_from(Message)) or 0
    stale: list[int] = []
    # Every archived message is indexed (or the purge refuses), so more documents than messages
    # means documents of purged messages: only then is each purged id looked up.
    if engine is not None and purged_ids and engine.document_count() > archived:
        stale = sorted(engine.contains(sorted(purged_ids)))
    if dry_run:
        return len(present), len(stale)
    files = _delete_files(archive, sorted(present)) if present else 0
    if stale and engine is not None:
        engine.delete(stale)
    if files or stale:
        log.warning(
            "finished an earlier purge: %d blob file(s), %d index document(s) removed", files, len(stale)
        )
    return files, len(stale)


# -- the record -------------------------------------------------------------------------


def _audit(archive: Archive, user: str, report: PurgeReport, outcome: Outcome) -> None:
    target = "purge: dry run" if report.dry_run else "purge: cancelled" if report.cancelled else "purge"
    audit.record(
        archive.db,
        username=user,
        action=Action.PURGE,
        address="",
        outcome=outcome,
        target=target,
        count=len(report.purged),
        detail=report.as_dict(),
    )
