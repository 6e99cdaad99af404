"""Syncing registered accounts on their interval: `mailvault sync`, and the sync process of
`mailvault serve`. One account at a time: mailbox providers limit connections per user, not per
company, and the archive takes one writer's pace anyway."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import ImapSyncError
from mailvault.imapsync.accounts import Registered, now, registered
from mailvault.imapsync.importer import AccountSync, SyncSummary
from mailvault.imapsync.secrets import SecretBox

log = logging.getLogger(__name__)

IDLE_POLL = 30.0  # seconds between looks for due accounts when none is


async def sync_accounts(
    archive: Archive, settings: Settings, accounts: list[Registered], stop: asyncio.Event | None = None
) -> list[tuple[str, SyncSummary | ImapSyncError]]:
    """Sync these accounts one after another; a failure is logged and reported, not raised."""
    results: list[tuple[str, SyncSummary | ImapSyncError]] = []
    for account in accounts:
        if stop is not None and stop.is_set():
            break
        try:
            summary = await AccountSync(archive, settings, account.spec, account.password).run()
        except ImapSyncError as exc:
            log.error("sync of %s failed: %s", account.spec.name, exc)
            results.append((account.spec.name, exc))
            continue
        counts = summary.counts
        log.info(
            "synced %s: %d new, %d already archived, %d failed; %d deleted and %d moved at the source",
            account.spec.name,
            counts.new,
            counts.copies + counts.duplicates + counts.known,
            counts.failed,
            summary.deleted,
            summary.moved,
        )
        results.append((account.spec.name, summary))
    return results


async def sync_due_forever(archive: Archive, settings: Settings, stop: asyncio.Event) -> None:
    """Until `stop`: sync every registered account when it is due."""
    box = SecretBox(settings.resolved_imap_key_file)
    while not stop.is_set():
        accounts = registered(archive.db, box)
        due = [a for a in accounts if a.due_at <= now()]
        if due:
            await sync_accounts(archive, settings, due, stop)
            continue
        upcoming = min((a.due_at for a in accounts), default=None)
        wait = IDLE_POLL if upcoming is None else min(IDLE_POLL, max(1.0, (upcoming - now()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
