"""The indexer process of `mailvault serve`: follows the archive so new mail is searchable within
seconds. A process of its own (see workers.py): indexing is CPU-heavy Python that must not take
the GIL from the SMTP sessions."""

from __future__ import annotations

import logging
import threading
from multiprocessing.connection import Connection

from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import ArchiveError, SearchIndexError
from mailvault.index import manage
from mailvault.workers import become_worker, lifeline_closed

log = logging.getLogger(__name__)

_RETRY_MAX = 60.0


def index_until_stopped(settings: Settings, lifeline: Connection) -> None:
    become_worker(settings)
    stop = threading.Event()

    def stop_when_told() -> None:
        lifeline_closed(lifeline, None)
        stop.set()

    threading.Thread(target=stop_when_told, daemon=True).start()
    delay = 1.0
    while not stop.is_set():
        try:
            with Archive(settings) as archive:
                manage.follow(settings, archive, stop)
        except (ArchiveError, SearchIndexError) as exc:
            log.error("indexer: %s; retry in %.0f s", exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, _RETRY_MAX)
