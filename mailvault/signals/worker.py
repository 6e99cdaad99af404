"""The risk-signal process of `mailvault serve`: runs the detectors every [signals] scan_interval
seconds. A process of its own (see workers.py): scanning reads and parses mail, CPU-heavy Python
that must not take the GIL from the SMTP sessions."""

from __future__ import annotations

import logging
import threading
from multiprocessing.connection import Connection

from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import MailvaultError
from mailvault.signals.scan import scan
from mailvault.workers import become_worker, lifeline_closed

log = logging.getLogger(__name__)


def scan_until_stopped(settings: Settings, lifeline: Connection) -> None:
    become_worker(settings)
    stop = threading.Event()

    def stop_when_told() -> None:
        lifeline_closed(lifeline, None)
        stop.set()

    threading.Thread(target=stop_when_told, daemon=True).start()
    while not stop.is_set():
        try:
            with Archive(settings) as archive:
                result = scan(archive, settings)
            if result.total:
                log.info("risk signals: %d new %s", result.total, result.found)
        except MailvaultError as exc:
            log.error("risk signals: %s; next scan in %.0f s", exc, settings.signals.scan_interval)
        stop.wait(settings.signals.scan_interval)
