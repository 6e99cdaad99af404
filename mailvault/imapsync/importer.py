"""Importing one IMAP account: every folder, incrementally, resumable, with deletions recorded.

A run plans first (each folder's UIDVALIDITY, its UIDs, what is new above the checkpoint and
which recorded locations have vanished), then downloads in bounded windows over one or more
connections while one consumer secures each window in the account's import journal (journal.py:
fsynced) and then moves the folder's checkpoint; the journal is archived through the single
ingest path as the download goes on, and the run ends when all of it is. A bounded queue between
download and journal keeps memory flat whatever the mailbox size. A dropped connection or a
timeout discards that session; a new one resumes after the last window handed over. Messages are
fetched with BODY.PEEK[] from folders opened read-only (EXAMINE): the import changes nothing in
the mailbox.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mailvault import __version__
from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.db import Database
from mailvault.archive.ingest import IngestResult
from mailvault.archive.models import SourceKind
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import ImapSyncError
from mailvault.fileimport.runner import ImportSummary
from mailvault.imapsync import state
from mailvault.imapsync.client import (
    Endpoint,
    ImapAuthError,
    ImapCommandError,
    ImapConnectionError,
    ImapSession,
    Security,
)
from mailvault.imapsync.journal import ImportJournal
from mailvault.imapsync.providers import by_key
from mailvault.imapsync.responses import FetchItem, Folder
from mailvault.imapsync.state import AccountSpec, Epoch
from mailvault.mime.headers import parse_message_id

log = logging.getLogger(__name__)

BACKOFF_BASE = 1.0  # seconds before the first reconnection; doubles, with jitter, up to a minute
_SIZES_AT_ONCE = 2000  # UIDs per RFC822.SIZE fetch (about 60 KB of response)
_WINDOWS_AHEAD = 3  # downloaded windows waiting for the archive, at most (bounds memory)
_SESSION_FLAGS = {"\\recent"}  # flags that describe the session, not the message
# What identifies a message before it is downloaded (and the flags its location records).
_IDENTITY = "(UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"


@dataclass(slots=True)
class SyncSummary:
    account: str
    counts: ImportSummary = field(default_factory=ImportSummary)
    folders: int = 0
    gone: int = 0  # expunged on the server between planning and download
    moved: int = 0
    deleted: int = 0
    incomplete: list[tuple[str, str]] = field(default_factory=list)  # folder, why
    secured_seconds: float = 0.0  # until the last message was durable in the journal (then archived)

    def as_dict(self) -> dict[str, object]:
        return {
            "account": self.account,
            "folders": self.folders,
            **self.counts.as_dict(),
            "gone_before_download": self.gone,
            "vanished_moved": self.moved,
            "vanished_deleted": self.deleted,
            "incomplete": [{"folder": f, "reason": r} for f, r in self.incomplete],
            "secured_seconds": round(self.secured_seconds, 3),
        }


class Listener(Protocol):
    """Progress of a run (a terminal bar, or log lines). `archived` is called from the journal's
    drain thread."""

    def planned(self, messages: int) -> None: ...

    def secured(self, messages: int, size: int) -> None:
        """Downloaded and durable (or matched to a stored copy, or failed): the checkpoint moved."""

    def archived(self, messages: int) -> None:
        """In the archive: recorded, parsed, searchable soon."""


class _Quiet:
    def planned(self, messages: int) -> None:
        pass

    def secured(self, messages: int, size: int) -> None:
        pass

    def archived(self, messages: int) -> None:
        pass


@dataclass(slots=True)
class _Plan:
    folder: Folder
    epoch: Epoch
    new: list[int]  # UIDs above the checkpoint, ascending
    retry: list[int]  # failed earlier, still in the folder
    messages: int
    handed_over: int = 0  # UIDs of new[] already handed to the archive (resume point)
    retried: bool = False


@dataclass(slots=True)
class _Window:
    plan: _Plan
    arrivals: list[Arrival]
    checkpoint: int  # the folder's checkpoint once this window is durable
    failed: dict[int, str]
    cleared: list[int]
    known: list[tuple[SourceInfo, str]]  # locations of bytes already stored (sha256), not downloaded


class AccountSync:
    def __init__(
        self,
        archive: Archive,
        settings: Settings,
        spec: AccountSpec,
        password: str,
        listener: Listener | None = None,
    ) -> None:
        self.archive = archive
        self.settings = settings
        self.spec = spec
        self._password = password
        self.listener = listener or _Quiet()
        self.summary = SyncSummary(spec.name)
        self._reconnections = 0
        self._account_id = 0
        self._started = 0.0
        self._counting = threading.Lock()  # the summary is counted by two threads
        self._journal = ImportJournal(archive, settings, spec.name, self._archived)

    @property
    def endpoint(self) -> Endpoint:
        security: Security = self.spec.security  # type: ignore[assignment]
        return Endpoint(self.spec.host, self.spec.port, security, self.settings.imap.timeout)

    async def run(self) -> SyncSummary:
        started = self._started = time.monotonic()
        db = self.archive.db
        self._account_id = state.account_row(db, self.spec)
        async with self._journal:
            # Before planning, so locations an interrupted run secured count as archived.
            await self._journal.archive_leftovers()
            await self._sync(db)
        self.summary.counts.seconds = time.monotonic() - started
        self.summary.secured_seconds = self.summary.secured_seconds or self.summary.counts.seconds
        return self.summary

    async def _sync(self, db: Database) -> None:
        try:
            session = await self._open()
        except ImapAuthError as exc:
            state.account_synced(db, self._account_id, str(exc), stop=True)
            raise
        except ImapConnectionError as exc:
            state.account_synced(db, self._account_id, str(exc))
            raise
        try:
            plans, vanished = await self._plan(session)
            self.listener.planned(sum(len(p.new) + len(p.retry) for p in plans))
            await self._transfer(session, plans)
        except ImapSyncError as exc:
            # Recorded, so the scheduler waits before the next attempt instead of retrying at once.
            state.account_synced(db, self._account_id, str(exc))
            raise
        finally:
            await session.logout()
        complete = not self.summary.incomplete
        self.summary.moved, self.summary.deleted = state.record_vanished(
            db, self.spec.name, vanished, final=complete
        )
        for plan in plans:
            state.folder_synced(db, plan.epoch.folder_id, plan.messages)
        problem = "; ".join(f"{f}: {r}" for f, r in self.summary.incomplete) or None
        state.account_synced(db, self._account_id, problem)

    # -- connections ------------------------------------------------------------------------

    async def _open(self) -> ImapSession:
        session = await ImapSession.connect(self.endpoint)
        try:
            await session.login(self.spec.username, self._password)
            await session.identify("mailvault", __version__)
        except ImapAuthError as exc:
            await session.logout()
            provider = by_key(self.spec.provider) if self.spec.provider else None
            hint = f" ({provider.login_hint})" if provider and provider.login_hint else ""
            raise ImapAuthError(f"{exc}{hint}", account=self.spec.name) from exc
        except BaseException:
            session.abort()
            raise
        return session

    async def _reopen(self, why: ImapConnectionError) -> ImapSession:
        """A new session after a failure, with exponential backoff and jitter; gives up (raising
        `why`) after [imap] retries reconnections in this run."""
        while True:
            self._reconnections += 1
            if self._reconnections > self.settings.imap.retries:
                raise why
            jitter = random.uniform(0.5, 1.5)  # noqa: S311 - spreads reconnections, not a secret
            delay = min(60.0, BACKOFF_BASE * 2 ** (self._reconnections - 1)) * jitter
            log.warning("%s: %s; reconnecting in %.1f s", self.spec.name, why, delay)
            await asyncio.sleep(delay)
            try:
                return await self._open()
            except ImapConnectionError as exc:
                why = exc

    # -- planning ---------------------------------------------------------------------------

    async def _plan(self, session: ImapSession) -> tuple[list[_Plan], list[int]]:
        db, origin = self.archive.db, self.spec.name
        folders = [f for f in await session.folders() if f.selectable]
        plans: list[_Plan] = []
        vanished: list[int] = []
        for folder in _in_sync_order(folders):
            try:
                status = await session.examine(folder.name)
                uids = await session.uids()
            except ImapCommandError as exc:
                self.summary.incomplete.append((folder.display, str(exc)))
                continue
            epoch = state.epoch_for(
                db, self._account_id, origin, folder.name, folder.display, status.uidvalidity
            )
            on_server = set(uids)
            recorded = state.present_locations(db, origin, folder.display, status.uidvalidity)
            vanished += [source for uid, source in recorded.items() if uid not in on_server]
            retry = sorted(uid for uid in epoch.failed if uid in on_server and uid <= epoch.checkpoint_uid)
            new = [uid for uid in uids if uid > epoch.checkpoint_uid]
            plans.append(_Plan(folder, epoch, new, retry, len(uids)))
        self.summary.folders = len(plans)
        listed = {f.name for f in folders}
        for epoch in state.open_epochs(db, self._account_id):
            if epoch.name not in listed:  # the folder was deleted or renamed on the server
                vanished += state.present_locations(db, origin, epoch.display, epoch.uidvalidity).values()
                state.end_epoch(db, epoch.folder_id)
        return plans, vanished

    # -- downloading and archiving ---------------------------------------------------------

    async def _transfer(self, first: ImapSession, plans: list[_Plan]) -> None:
        queue: asyncio.Queue[_Window | None] = asyncio.Queue(_WINDOWS_AHEAD)
        todo = deque(p for p in plans if p.new or p.retry)
        connections = max(1, min(self.spec.connections, len(todo)))
        sessions: list[ImapSession | None] = [first, *([None] * (connections - 1))]
        consumer = asyncio.create_task(self._secure_windows(queue))
        drain = self._journal.start()
        downloads = asyncio.gather(*(self._download_folders(s, todo, queue) for s in sessions))
        either: set[asyncio.Future[Any]] = {consumer, downloads, drain}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if consumer.done() or drain.done():  # the journal or the archive failed: stop downloading
            for task in (downloads, consumer):
                task.cancel()
            await asyncio.gather(downloads, consumer, return_exceptions=True)
            failures: list[asyncio.Future[Any]] = [consumer, drain]
            for task in failures:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    self._note_secured_only()
                    task.result()
            raise RuntimeError("internal error: the import stopped without a reason")
        # What was downloaded is secured and archived even when a download failed; then the
        # failure counts.
        await queue.put(None)
        await consumer
        await self._journal.finish()
        downloads.result()

    async def _download_folders(
        self, session: ImapSession | None, todo: deque[_Plan], queue: asyncio.Queue[_Window | None]
    ) -> None:
        given = session  # the caller's, which it closes; sessions opened here are closed here
        try:
            while todo:
                plan = todo.popleft()
                if session is None:
                    try:
                        session = await self._open()
                    except ImapConnectionError as exc:
                        session = await self._reopen(exc)
                session = await self._download_folder(session, plan, queue)
        finally:
            if session is not None and session is not given:
                await session.logout()

    async def _download_folder(
        self, session: ImapSession, plan: _Plan, queue: asyncio.Queue[_Window | None]
    ) -> ImapSession:
        """Hand every message of the plan to the archive; returns the session in use (a new one
        after a reconnection). A folder that cannot be read is noted as incomplete."""
        while True:
            try:
                status = await session.examine(plan.folder.name)
                if status.uidvalidity != plan.epoch.uidvalidity:
                    self.summary.incomplete.append((plan.folder.display, "renumbered during the sync"))
                    return session
                if not plan.retried:
                    await self._hand_over(session, plan, plan.retry, queue, advance=False)
                    plan.retried = True
                while plan.handed_over < len(plan.new):
                    chunk = plan.new[plan.handed_over : plan.handed_over + _SIZES_AT_ONCE]
                    await self._hand_over(session, plan, chunk, queue, advance=True)
                return session
            except ImapCommandError as exc:
                self.summary.incomplete.append((plan.folder.display, str(exc)))
                return session
            except ImapConnectionError as exc:
                session.abort()
                session = await self._reopen(exc)

    async def _hand_over(
        self,
        session: ImapSession,
        plan: _Plan,
        uids: list[int],
        queue: asyncio.Queue[_Window | None],
        *,
        advance: bool,
    ) -> None:
        """Fetch these UIDs (what identifies them first, then bodies in windows) and queue them.
        A message whose Message-ID, size and INTERNALDATE match a copy already imported from this
        mailbox (moved to another folder, a Gmail label, a renumbered folder) is recorded as
        another location of those bytes without being downloaded again."""
        if not uids:
            return
        heads = {i.uid: i for i in await session.fetch(uids, _IDENTITY) if i.uid is not None}
        sizes = {uid: item.size or 0 for uid, item in heads.items()}
        stored = state.stored_copies(
            self.archive.db, self.spec.name, {u: _identity(i) for u, i in heads.items()}
        )
        limit = self.settings.ingest.max_message_size
        for window in _windows(
            uids, sizes, self.settings.imap.window_messages, self.settings.imap.window_bytes
        ):
            failed = {
                uid: f"larger than [ingest] max_message_size ({sizes[uid]:,} > {limit:,} bytes)"
                for uid in window
                if sizes.get(uid, 0) > limit and uid not in stored
            }
            known = [(self._source(plan, heads[uid]), stored[uid]) for uid in window if uid in stored]
            wanted = [uid for uid in window if uid in sizes and uid not in failed and uid not in stored]
            items, fetch_failed = await self._bodies(session, wanted)
            failed |= fetch_failed
            arrivals = [Arrival(item.sections["BODY[]"], self._source(plan, item)) for item in items]
            fetched = {item.uid for item in items if item.uid is not None} | {
                uid for uid in window if uid in stored
            }
            self.summary.gone += sum(1 for uid in window if uid not in fetched and uid not in failed)
            checkpoint = window[-1] if advance else plan.epoch.checkpoint_uid
            cleared = [] if advance else sorted(fetched)
            await queue.put(_Window(plan, arrivals, checkpoint, failed, cleared, known))
            if advance:
                plan.handed_over += len(window)

    async def _bodies(self, session: ImapSession, uids: list[int]) -> tuple[list[FetchItem], dict[int, str]]:
        """The messages with their bodies; a window the server refuses is fetched one by one so
        only the messages it cannot deliver are reported (and retried by the next sync)."""
        parts = "(UID INTERNALDATE FLAGS BODY.PEEK[])"
        try:
            items = await session.fetch(uids, parts)
        except ImapCommandError as exc:
            if len(uids) == 1:
                return [], {uids[0]: str(exc)}
            items, failed = [], dict[int, str]()
            for uid in uids:
                more, problem = await self._bodies(session, [uid])
                items += more
                failed |= problem
            return items, failed
        complete = [i for i in items if i.uid is not None and "BODY[]" in i.sections]
        return complete, {}

    def _source(self, plan: _Plan, item: FetchItem) -> SourceInfo:
        flags = " ".join(f for f in item.flags if f.lower() not in _SESSION_FLAGS)
        detail = {"internaldate": item.internaldate.isoformat()} if item.internaldate else {}
        return SourceInfo(
            kind=SourceKind.IMAP,
            origin=self.spec.name,
            folder=plan.folder.display,
            owner=self.spec.owner,
            uidvalidity=plan.epoch.uidvalidity,
            uid=item.uid,
            flags=flags,
            detail=detail,
        )

    async def _secure_windows(self, queue: asyncio.Queue[_Window | None]) -> None:
        """The one consumer: each window into the journal, then its folder's checkpoint. Order
        within a folder is kept."""
        while (window := await queue.get()) is not None:
            await self._journal.secure(window.arrivals)
            await asyncio.to_thread(self._checkpoint, window)
        self.summary.secured_seconds = time.monotonic() - self._started

    def _checkpoint(self, window: _Window) -> None:
        known = self.archive.ingestor.record_known(window.known)
        with self._counting:
            for (source, _), recorded in zip(window.known, known, strict=True):
                if recorded is None:  # cannot happen while nothing deletes blobs: fetch it next sync
                    window.failed[source.uid or 0] = "its matched copy is no longer stored"
                else:
                    self.summary.counts.count(recorded)
            size = sum(len(a.raw) for a in window.arrivals)
            self.summary.counts.bytes += size
            for uid, reason in window.failed.items():
                self.summary.counts.failed += 1
                if len(self.summary.counts.failures) < 100:
                    self.summary.counts.failures.append((f"{window.plan.folder.display} UID {uid}", reason))
        state.advance(
            self.archive.db, window.plan.epoch.folder_id, window.checkpoint, window.failed, window.cleared
        )
        self.listener.secured(len(window.arrivals) + len(window.known) + len(window.failed), size)

    def _archived(self, arrivals: Sequence[Arrival], results: Sequence[IngestResult]) -> None:
        with self._counting:
            for result in results:
                self.summary.counts.count(result)
        self.listener.archived(len(results))

    def _note_secured_only(self) -> None:
        backlog = self._journal.backlog
        if backlog:
            log.warning(
                "%s: %.1f MB of downloaded mail is secured in %s but not archived yet; the next run "
                "of this account archives it",
                self.spec.name,
                backlog / 1e6,
                self._journal.directory,
            )


def _in_sync_order(folders: list[Folder]) -> list[Folder]:
    """INBOX first, then Sent and the other special folders, then the rest by name."""

    def rank(folder: Folder) -> tuple[int, str]:
        if folder.name.upper() == "INBOX":
            return 0, ""
        return (1 if folder.special_use else 2), folder.display

    return sorted(folders, key=rank)


def _windows(uids: list[int], sizes: dict[int, int], count: int, size: int) -> Iterator[list[int]]:
    """Consecutive runs of UIDs of at most `count` messages and `size` bytes (one larger message
    makes a window of its own)."""
    window: list[int] = []
    total = 0
    for uid in uids:
        length = sizes.get(uid, 0)
        if window and (len(window) >= count or total + length > size):
            yield window
            window, total = [], 0
        window.append(uid)
        total += length
    if window:
        yield window


def _identity(item: FetchItem) -> tuple[str, int, str] | None:
    """(Message-ID, size, INTERNALDATE): the same in every folder a message is moved or copied to
    (RFC 3501 keeps INTERNALDATE on COPY), and after a server renumbers a folder."""
    header = item.sections.get("BODY[HEADER.FIELDS (MESSAGE-ID)]", b"")
    name, _, value = header.decode("utf-8", "replace").partition(":")
    message_id = parse_message_id(value) if name.strip().lower() == "message-id" else None
    if not message_id or item.size is None or item.internaldate is None:
        return None
    return message_id, item.size, item.internaldate.isoformat()
