"""Faults around the gateway: a full disk, a database that goes away, slow and silent clients,
and SIGTERM with a session in flight. Nothing acknowledged is lost; failures answer 4xx."""

from __future__ import annotations

import asyncio
import os
import smtplib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailvault.archive.blobs import sha256_of
from mailvault.archive.store import Archive
from tests.gateway.conftest import data_stream, gateway_settings, running
from tests.mailfactory import make_message
from tests.servers import PostgresServer, create_database, postgres_bindir, small_tmpfs


def send(port: int, raw: bytes) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.sendmail("a@kunde.de", ["b@huaqiang-elec.com.cn"], raw)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "tiny", "512k") as mount:
        yield mount


async def test_full_spool_disk_answers_451_and_recovers(tmp_path: Path, tiny_disk: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    settings = gateway_settings(tmp_path, url, spool_dir=tiny_disk / "spool", max_message_size=4_000_000)
    async with running(settings) as gateway:
        too_big_for_disk = make_message(body=os.urandom(600_000).hex()[:700_000] + "\n")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await asyncio.to_thread(send, gateway.port, too_big_for_disk)
        assert refused.value.smtp_code == 451
        assert b"4.3.0" in refused.value.smtp_error
        fits = make_message(subject="after the disk filled")
        assert await asyncio.to_thread(send, gateway.port, fits) == {}
        archive = await gateway.archived(1)
        try:
            assert archive.blobs.get(sha256_of(fits)) == fits
        finally:
            archive.close()


@pytest.mark.postgresql
async def test_database_down_mail_is_accepted_and_archived_when_it_returns(tmp_path: Path) -> None:
    if postgres_bindir() is None:
        pytest.skip("PostgreSQL not installed; `bash .ci/run` installs it")
    server = PostgresServer()
    server.start()
    try:
        url = create_database(server.url, "gateway")
        async with running(gateway_settings(tmp_path, url)) as gateway:
            first = make_message(subject="before the outage")
            assert await asyncio.to_thread(send, gateway.port, first) == {}
            (await gateway.archived(1)).close()

            await asyncio.to_thread(server.stop)
            during = make_message(subject="while the database is down")
            # The journal is on local disk: the sender gets its 250, the archive catches up later.
            assert await asyncio.to_thread(send, gateway.port, during) == {}
            await asyncio.sleep(1.5)  # the drain worker meets the outage and backs off
            await asyncio.to_thread(server.start)
            archive = await gateway.archived(2, seconds=60)
            try:
                assert archive.blobs.get(sha256_of(during)) == during
            finally:
                archive.close()
    finally:
        server.remove()


async def test_slow_data_is_not_cut_but_a_silent_client_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    async with running(gateway_settings(tmp_path, url, timeout=1.0)) as gateway:

        def slow_sender() -> bytes:
            with data_stream(gateway.port) as stream:
                stream.write(b"Subject: slow link\r\n\r\n")
                for n in range(6):  # 3 s of DATA, three times the timeout, never silent for 1 s
                    stream.write(b"line %d of a large attachment\r\n" % n)
                    stream.flush()
                    time.sleep(0.5)
                stream.write(b".\r\n")
                stream.flush()
                return stream.readline()

        reply = await asyncio.to_thread(slow_sender)
        assert reply.startswith(b"250 "), reply

        def silent_client() -> bytes:
            with socket.create_connection(("127.0.0.1", gateway.port), timeout=20) as sock:
                stream = sock.makefile("rwb")
                stream.readline()
                return stream.read()  # the server closes the connection after the timeout

        assert await asyncio.wait_for(asyncio.to_thread(silent_client), 10) is not None


async def test_a_client_that_keeps_sending_commands_is_not_cut(tmp_path: Path) -> None:
    # ~3.5 s: commands for over twice the timeout, then silence until the server hangs up.
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    async with running(gateway_settings(tmp_path, url, timeout=1.0)) as gateway:

        def chatty_client() -> tuple[list[bytes], bytes]:
            with socket.create_connection(("127.0.0.1", gateway.port), timeout=20) as sock:
                stream = sock.makefile("rwb")
                stream.readline()
                replies = []
                for _ in range(6):  # 2.4 s of commands, never 1 s apart
                    stream.write(b"NOOP\r\n")
                    stream.flush()
                    replies.append(stream.readline())
                    time.sleep(0.4)
                return replies, stream.read()  # silent now: the server closes after the timeout

        replies, rest = await asyncio.wait_for(asyncio.to_thread(chatty_client), 15)
        assert all(reply.startswith(b"250") for reply in replies), replies
        assert rest == b""


async def test_sigterm_lets_a_session_in_flight_finish(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    settings = gateway_settings(tmp_path, url, grace=10.0)
    raw = make_message(subject="sent during shutdown")
    async with running(settings) as gateway:
        loop = asyncio.get_running_loop()

        def session_spanning_shutdown() -> dict[str, tuple[int, bytes]]:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
                client.ehlo("c.test")
                loop.call_soon_threadsafe(gateway.stop.set)  # what SIGTERM does
                time.sleep(0.3)  # the listener is closed by now; this session goes on
                return client.sendmail("a@kunde.de", ["b@x.cn"], raw)

        assert await asyncio.to_thread(session_spanning_shutdown) == {}
        await asyncio.wait_for(gateway.task, 30)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", gateway.port), timeout=2).close()
    with Archive(settings) as archive:
        assert archive.blobs.get(sha256_of(raw)) == raw  # drained into the archive before exit
