"""A running gateway (the real `service.run`, in the test's event loop) on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mailvault import service
from mailvault.archive.models import Source
from mailvault.archive.store import Archive
from mailvault.config import Settings
from tests.conftest import make_settings
from tests.index.agreement import assert_index_agrees
from tests.servers import free_port


@dataclass
class Gateway:
    settings: Settings
    port: int
    task: asyncio.Task[None]
    stop: asyncio.Event

    async def archived(self, count: int, seconds: float = 20.0) -> Archive:
        """Wait until `count` SMTP arrivals are in the archive; return it opened (caller closes)."""
        archive = await asyncio.to_thread(Archive, self.settings)
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            with archive.db.reading() as session:
                done = session.scalar(select(func.count()).select_from(Source).where(Source.kind == "smtp"))
            if done is not None and done >= count:
                return archive
            if asyncio.get_running_loop().time() > deadline:
                archive.close()
                raise AssertionError(f"only {done} of {count} messages archived in {seconds} s")
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.05)


@contextlib.contextmanager
def data_stream(port: int, timeout: float = 20.0) -> Iterator[io.BufferedRWPair]:
    """A raw SMTP connection taken up to the point where message data is sent, for tests that
    need to misbehave inside DATA (stall, trickle, hang up) as no client library would."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        stream = sock.makefile("rwb")
        stream.readline()
        for command in (b"EHLO raw.test", b"MAIL FROM:<a@kunde.de>", b"RCPT TO:<b@x.cn>", b"DATA"):
            stream.write(command + b"\r\n")
            stream.flush()
            while stream.readline()[3:4] == b"-":
                pass  # continuation lines of a multi-line reply
        yield stream


def gateway_settings(tmp_path: Path, database_url: str, **smtp: Any) -> Settings:
    port = smtp.pop("port", None) or free_port()
    return make_settings(
        tmp_path,
        database_url,
        smtp={
            "listeners": [{"address": "127.0.0.1", "port": port, "mode": "journal"}],
            "hostname": "mx.test",
            **smtp,
        },
    )


@contextlib.asynccontextmanager
async def running(settings: Settings, *, with_indexer: bool = False) -> AsyncIterator[Gateway]:
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stop=stop, with_indexer=with_indexer))
    port = settings.smtp.listeners[0].port
    for _ in range(200):
        if task.done():
            task.result()
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        break
    try:
        yield Gateway(settings, port, task, stop)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@pytest.fixture
async def gateway(tmp_path: Path, database_url: str) -> AsyncIterator[Gateway]:
    """A running gateway; once it has stopped, the search index built from its archive must agree."""
    settings = gateway_settings(tmp_path, database_url, journal_domain="archive.example")
    async with running(settings) as gw:
        yield gw
    with Archive(settings) as archive:
        await asyncio.to_thread(assert_index_agrees, settings, archive)
