"""Running the web app: in the foreground (`mailvault web`, with the search indexer beside it)
or as a worker process of `mailvault serve`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection

import uvicorn

from mailvault.config import Settings
from mailvault.index import worker as index_worker
from mailvault.log import setup_logging
from mailvault.web.app import create_app
from mailvault.workers import lifeline_closed, supervise

log = logging.getLogger(__name__)


def server_for(settings: Settings) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.web.address,
        port=settings.web.port,
        log_config=None,  # our logging (journal under systemd), not uvicorn's own
        access_log=False,  # who looked at what is in the audit trail, with the user's name
        server_header=False,
        proxy_headers=False,  # client addresses come from [web] trusted_proxies only
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


async def run_in_foreground(settings: Settings) -> None:
    """The web app, and the indexer so that new mail is searchable; stops on SIGTERM or Ctrl-C."""
    server = _ForegroundServer(server_for(settings).config)
    stopping = asyncio.Event()
    indexer = asyncio.ensure_future(
        supervise(
            "mailvault-indexer",
            index_worker.index_until_stopped,
            (settings,),
            stopping=stopping,
            stop_by_closing_lifeline=True,
        )
    )
    log.info("web app on http://%s:%d/", settings.web.address, settings.web.port)
    try:
        await server.serve()
    finally:
        stopping.set()
        await indexer


def web_until_stopped(settings: Settings, lifeline: Connection) -> None:
    """Worker process of `mailvault serve`: serves until the service closes the lifeline."""
    setup_logging(settings.log.level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    server = _ServiceWorkerServer(server_for(settings).config)

    def stop_when_told() -> None:
        lifeline_closed(lifeline, None)
        server.should_exit = True

    threading.Thread(target=stop_when_told, daemon=True).start()
    asyncio.run(server.serve())


class _ServiceWorkerServer(uvicorn.Server):
    """Leaves signals alone: the service decides when its workers stop (see workers.supervise)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _ForegroundServer(uvicorn.Server):
    """Stops on SIGTERM or Ctrl-C (a second one forces it) and exits 0, as `mailvault serve`
    does; uvicorn's own handling would re-raise the signal and end the process by it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._stop)
        try:
            yield
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    def _stop(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True
