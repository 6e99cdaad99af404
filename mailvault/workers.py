"""Background worker processes of `mailvault serve`: started, watched and restarted from the
service's event loop.

Each worker gets the read end of a pipe (its lifeline) that only the service holds open: when
the service dies, even by SIGKILL, the worker reads end-of-file and exits, so no worker outlives
it. Workers run at a lower CPU priority: accepting mail comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from mailvault.config import Settings
from mailvault.log import setup_logging

log = logging.getLogger(__name__)

NICENESS = 10
_RETRY_MAX = 60.0


def become_worker(settings: Settings) -> None:
    """First thing in a worker: the service's logging, signals left to the service, low priority."""
    setup_logging(settings.log.level)
    # Stopping is the service's call (see supervise); a terminal's Ctrl-C or systemd's SIGTERM to
    # the whole group must not cut a worker in the middle of a batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(NICENESS)


async def supervise(
    name: str,
    target: Callable[..., None],
    args: tuple[Any, ...],
    *,
    stopping: asyncio.Event,
    stop_by_closing_lifeline: bool,
) -> None:
    """Run `target(*args, lifeline)` in a process named `name`; restart it if it dies before
    `stopping` is set. Once it is set, the worker is told to stop by closing its lifeline (or it
    stops by itself, e.g. the drain when the spool closes) and this returns when it has exited."""
    # forkserver: the process starts without the service's threads, sockets and open files.
    context = multiprocessing.get_context("forkserver")
    # Workers fork from a server that has imported them already: a restart takes milliseconds.
    context.set_forkserver_preload(
        [
            "mailvault.gateway.drain_worker",
            "mailvault.index.worker",
            "mailvault.imapsync.worker",
            "mailvault.signals.worker",
            "mailvault.web.worker",
        ]
    )
    delay = 1.0
    while True:
        lifeline, keep = context.Pipe(duplex=False)
        process = context.Process(target=target, args=(*args, lifeline), name=name, daemon=False)
        try:
            process.start()
            lifeline.close()
            exited = asyncio.ensure_future(_exited(process))
            stop = asyncio.ensure_future(stopping.wait())
            await asyncio.wait({exited, stop}, return_when=asyncio.FIRST_COMPLETED)
            if stop.done() and not exited.done() and stop_by_closing_lifeline:
                keep.close()
            await exited
            stop.cancel()
        except asyncio.CancelledError:
            process.kill()  # it ignores SIGTERM; what it was doing is redone by the next one
            await asyncio.to_thread(process.join)
            raise
        finally:
            keep.close()
        if stopping.is_set():
            if process.exitcode:
                log.error("%s exited with code %s while stopping", name, process.exitcode)
            return
        log.error("%s stopped (exit code %s); restarting it in %.0f s", name, process.exitcode, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), delay)
        if stopping.is_set():
            return
        delay = min(delay * 2, _RETRY_MAX)


async def _exited(process: BaseProcess) -> None:
    """Wait for the process without holding a thread: its sentinel becomes readable when it exits."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(process.sentinel, done.set_result, None)
    try:
        await done
    finally:
        loop.remove_reader(process.sentinel)
    process.join()


def lifeline_closed(lifeline: Connection, seconds: float | None = 0.0) -> bool:
    """True once the service has closed its end (it stops us, or it is gone); waits up to
    `seconds` for that (None: until it happens)."""
    try:
        return lifeline.poll(seconds)
    except (EOFError, OSError):
        return True


class WorkerPool:
    """A process pool (forkserver) whose processes end with this one, even when it is killed:
    a pool's idle workers would otherwise wait for work forever. Ctrl-C is left to this process,
    which stops the pool."""

    def __init__(
        self,
        count: int,
        *,
        preload: Sequence[str] = (),
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        context = multiprocessing.get_context("forkserver")
        if preload:
            context.set_forkserver_preload(list(preload))
        lifeline, self._lifeline = context.Pipe(duplex=False)  # we hold the end that closes
        self.executor = ProcessPoolExecutor(
            count,
            mp_context=context,
            initializer=_start_pool_worker,
            initargs=(lifeline, initializer, initargs),
        )

    def close(self) -> None:
        self.executor.shutdown(cancel_futures=True)
        self._lifeline.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _start_pool_worker(
    lifeline: Connection, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_closed, args=(lifeline,), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _exit_when_closed(lifeline: Connection) -> None:
    lifeline_closed(lifeline, None)
    os._exit(1)
