"""The spool seen from the drain process: one gateway per spool, never a byte that is not durable,
never the segment being written; damaged segments are kept; a killed drain worker is replaced."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import smtplib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mailvault.archive.blobs import sha256_of
from mailvault.archive.models import Source
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.journal.drain import Drainer
from mailvault.journal.spool import Spool, SpoolError, read_segment
from mailvault.journal.state import SpoolView, segment_name
from tests.conftest import make_settings
from tests.gateway.conftest import gateway_settings, running
from tests.mailfactory import make_message


def header(n: int) -> dict[str, Any]:
    return {
        "kind": "message",
        "queue_id": f"Q{n}",
        "mode": "journal",
        "mail_from": "a@kunde.de",
        "rcpt_tos": ["b@huaqiang-elec.com.cn"],
        "recipients": ["b@huaqiang-elec.com.cn"],
        "client": "127.0.0.1",
        "received_at": "2026-11-27T10:00:00",
    }


async def journal(spool: Spool, count: int) -> list[bytes]:
    raws = [make_message(subject=f"record {n}") for n in range(count)]
    for n, raw in enumerate(raws):
        await spool.append(header(n), raw)
    return raws


async def test_a_second_gateway_on_the_same_spool_is_refused(tmp_path: Path) -> None:
    first = Spool(tmp_path / "spool")
    with pytest.raises(SpoolError, match="another mailvault gateway is using the spool"):
        Spool(tmp_path / "spool")
    await first.close()
    second = Spool(tmp_path / "spool")  # the lock went with the first one
    await second.close()


async def test_the_drain_reads_only_durable_bytes_and_never_removes_the_active_segment(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "spool"
    earlier = directory / segment_name(1_000, 4242)  # left by a run that crashed
    directory.mkdir()
    earlier.write_bytes(b"")
    spool = Spool(directory)
    view = SpoolView(directory, spool.state)
    assert not view.is_active(earlier)
    assert view.durable_size(earlier) is None

    await journal(spool, 2)
    [active] = [s for s in view.segments() if s != earlier]
    assert view.is_active(active)
    assert view.durable_size(active) == active.stat().st_size
    assert len(list(read_segment(active, 0, view.durable_size(active)))) == 2
    view.remove(active)
    assert active.exists(), "the segment being written must survive a removal attempt"

    # A segment the gateway has created but not yet announced counts as active too.
    announced = spool.state.snapshot().active
    unannounced = directory / segment_name(announced + 1, os.getpid())
    unannounced.write_bytes(b"")
    assert view.is_active(unannounced)
    assert view.durable_size(unannounced) is None

    await spool.close()
    assert not view.is_active(active), "after close every segment is finished"
    assert view.durable_size(active) == active.stat().st_size


def _count_arrivals(archive: Archive) -> int:
    with archive.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Source)) or 0


async def test_a_segment_damaged_in_the_middle_is_kept_and_a_torn_tail_is_not(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "spool"
    spool = Spool(directory)
    raws = await journal(spool, 3)
    await spool.close()
    [segment] = SpoolView(directory, spool.state).segments()
    second = list(read_segment(segment))[1]
    data = bytearray(segment.read_bytes())
    data[second.offset + second.length - 10] ^= 0xFF  # a flipped bit in the second record's message
    segment.write_bytes(bytes(data))

    with Archive(settings) as archive, caplog.at_level(logging.ERROR):
        drainer = Drainer(SpoolView(directory, spool.state), archive.ingestor)
        assert drainer.drain() == 1
        assert archive.blobs.get(sha256_of(raws[0])) == raws[0]
        assert not segment.exists()
        assert segment.with_name(segment.name + ".damaged").exists()
        assert "is damaged at byte" in caplog.text

    # A crash cuts only the end of the newest segment: that is no damage, the segment goes.
    directory = tmp_path / "spool2"
    spool = Spool(directory)
    raws = await journal(spool, 3)
    await spool.close()
    [segment] = SpoolView(directory, spool.state).segments()
    os.truncate(segment, segment.stat().st_size - 7)
    with Archive(make_settings(tmp_path / "b", f"sqlite:///{tmp_path / 'b.sqlite3'}")) as archive:
        assert Drainer(SpoolView(directory, spool.state), archive.ingestor).drain() == 2
        assert _count_arrivals(archive) == 2
    assert list(directory.glob("*.spool*")) == []


async def test_a_killed_drain_worker_is_replaced_and_nothing_is_lost(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    first, second = make_message(subject="before"), make_message(subject="after the drain died")

    def send(raw: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", settings.smtp.listeners[0].port, timeout=30) as client:
            assert client.sendmail("a@kunde.de", ["b@x.cn"], raw) == {}

    async with running(settings) as gateway:
        await asyncio.to_thread(send, first)
        (await gateway.archived(1)).close()
        [worker] = [p for p in multiprocessing.active_children() if p.name == "mailvault-drain"]
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        await asyncio.to_thread(send, second)  # accepted while no drain runs
        archive = await gateway.archived(2)
        try:
            assert archive.blobs.get(sha256_of(second)) == second
        finally:
            archive.close()
        [replacement] = [p for p in multiprocessing.active_children() if p.name == "mailvault-drain"]
        assert replacement.pid != worker.pid
