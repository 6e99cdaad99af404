"""The IMAP sync process of `mailvault serve`: re-syncs registered accounts on their interval.
A process of its own (see workers.py), so parsing downloaded mail never takes the GIL from the
SMTP sessions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from multiprocessing.connection import Connection
from typing import Any

from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import MailvaultError
from mailvault.imapsync.scheduler import sync_due_forever
from mailvault.workers import become_worker, lifeline_closed

log = logging.getLogger(__name__)

_RETRY_MAX = 300.0


def sync_until_stopped(settings: Settings, lifeline: Connection) -> None:
    become_worker(settings)
    asyncio.run(_run(settings, lifeline))


async def _run(settings: Settings, lifeline: Connection) -> None:
    """Sync until the lifeline closes; then the sync in progress is cancelled: its checkpoints
    are durable, and a window being archived at that moment is finished first (in its thread)."""
    loop = asyncio.get_running_loop()
    lifeline_gone = loop.run_in_executor(None, lifeline_closed, lifeline, None)
    work = asyncio.create_task(_sync_with_retries(settings))
    either: set[asyncio.Future[Any]] = {lifeline_gone, work}
    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work


async def _sync_with_retries(settings: Settings) -> None:
    never = asyncio.Event()  # stopping is by cancellation
    delay = 5.0
    while True:
        try:
            with Archive(settings) as archive:
                await sync_due_forever(archive, settings, never)
        except MailvaultError as exc:  # the database is down, the key is missing: wait, retry
            log.error("IMAP sync: %s; retry in %.0f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX)
