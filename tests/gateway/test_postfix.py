"""End to end with a real Postfix (Debian's package, a private instance on free loopback ports):
the exact settings the README gives, in relay mode (content_filter) and journal mode (bcc maps)."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mailvault.archive.lookup import load
from mailvault.archive.models import Role, Source
from mailvault.archive.store import Archive
from mailvault.config import Settings
from tests.gateway.conftest import gateway_settings, running
from tests.mailfactory import make_message
from tests.postfix import PostfixInstance, SmtpSink, postfix_unavailable
from tests.servers import REQUIRE_ENV, free_port

pytestmark = pytest.mark.slow  # real Postfix: each test takes a few seconds


@pytest.fixture(autouse=True)
def _postfix_available() -> None:
    reason = postfix_unavailable()
    if reason:
        import os

        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"Postfix is required here: {reason}")
        pytest.skip(reason)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as started:
        yield started


def submit(port: int, raw: bytes, recipients: list[str]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        assert client.sendmail("zhang.wei@huaqiang-elec.com.cn", recipients, raw) == {}


def envelope_of(archive: Archive, source: Source) -> set[str]:
    record = load(archive.db, source.archive_id)
    return {p.address for p in record.participants if p.role == Role.ENVELOPE_TO.value}


def relay_settings(tmp_path: Path, filter_port: int, reinject_port: int) -> Settings:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    settings = gateway_settings(tmp_path, url, port=filter_port, next_hop=f"127.0.0.1:{reinject_port}")
    listener = settings.smtp.listeners[0].model_copy(update={"mode": "relay"})
    return settings.model_copy(update={"smtp": settings.smtp.model_copy(update={"listeners": [listener]})})


async def test_relay_mode_content_filter_delivers_archives_and_survives_a_restart(
    tmp_path: Path, sink: SmtpSink
) -> None:
    filter_port = free_port()
    with PostfixInstance(filter_port=filter_port, relay_port=sink.port) as postfix:
        assert postfix.reinject_port is not None
        settings = relay_settings(tmp_path, filter_port, postfix.reinject_port)
        first = make_message(subject="Proforma PI-2024-031", to="hans@kunde.de")
        async with running(settings) as gateway:
            # boss@kunde.de is a Bcc: in the envelope only.
            await asyncio.to_thread(submit, postfix.port, first, ["hans@kunde.de", "boss@kunde.de"])
            delivered = await asyncio.to_thread(sink.wait_for, 1, 60)
            assert sorted(delivered[0].rcpt_tos) == ["boss@kunde.de", "hans@kunde.de"]
            assert delivered[0].data.endswith(first.split(b"\r\n\r\n", 1)[1])  # body unchanged
            archive = await gateway.archived(1, seconds=60)
            try:
                with archive.db.reading() as session:
                    source = session.scalars(select(Source)).one()
                assert envelope_of(archive, source) == {"hans@kunde.de", "boss@kunde.de"}
                assert source.detail["relay"]["code"] == 250
                assert source.detail["xforward"]["ADDR"] == "127.0.0.1"  # the original client
                assert b"Subject: Proforma PI-2024-031" in archive.blobs.get(source.sha256)
            finally:
                archive.close()

        # mailvault stopped: Postfix keeps the mail queued ("Connection refused") ...
        second = make_message(subject="sent while mailvault was down", to="hans@kunde.de")
        await asyncio.to_thread(submit, postfix.port, second, ["hans@kunde.de"])
        await asyncio.to_thread(postfix.wait_for_log, r"Connection refused", 30)
        assert not postfix.queue_is_empty()
        assert len(sink.deliveries) == 1

        # ... and archives and delivers it when mailvault is back.
        async with running(settings) as gateway:
            await asyncio.to_thread(postfix.flush)
            delivered = await asyncio.to_thread(sink.wait_for, 2, 60)
            assert b"sent while mailvault was down" in delivered[1].data
            (await gateway.archived(2, seconds=60)).close()
        await asyncio.to_thread(postfix.wait_until_empty, 30)


async def test_journal_mode_bcc_maps_recover_every_envelope_recipient(tmp_path: Path, sink: SmtpSink) -> None:
    tap_port = free_port()
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    settings = gateway_settings(tmp_path, url, port=tap_port, journal_domain="archive.example")
    with PostfixInstance(tap_port=tap_port, relay_port=sink.port) as postfix:
        # The README's sender map: its copies are tagged so that the sender is no recipient.
        sender_map = postfix.config_dir / "sender_bcc"
        sender_map.write_text("/^(.*)@(.*)$/ archive-sender+$1=$2@archive.example\n")
        await asyncio.to_thread(postfix.configure, {"sender_bcc_maps": f"regexp:{sender_map}"})
        async with running(settings) as gateway:
            raw = make_message(subject="Quotation", to="hans@kunde.de")
            await asyncio.to_thread(submit, postfix.port, raw, ["hans@kunde.de", "boss@kunde.de"])
            delivered = await asyncio.to_thread(sink.wait_for, 1, 60)
            assert sorted(delivered[0].rcpt_tos) == ["boss@kunde.de", "hans@kunde.de"]
            wanted = {"hans@kunde.de", "boss@kunde.de"}
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                archive = await gateway.archived(1, seconds=60)
                try:
                    with archive.db.reading() as session:
                        sources = list(session.scalars(select(Source)))
                    recorded = set().union(*(envelope_of(archive, s) for s in sources))
                    if recorded >= wanted or asyncio.get_running_loop().time() > deadline:
                        break
                finally:
                    archive.close()
                await asyncio.sleep(0.2)
            assert recorded == wanted
            assert {s.archive_id for s in sources} == {sources[0].archive_id}  # one message
            tags = {r.split("+", 1)[0] for s in sources for r in s.detail["rcpt_tos"]}
            assert tags == {"archive", "archive-sender"}  # the sender's copy came too ...
            record = load(archive.db, sources[0].archive_id)
            senders = {p.address for p in record.participants if p.role == Role.ENVELOPE_FROM.value}
            assert senders == {"zhang.wei@huaqiang-elec.com.cn"}  # ... and is the sender, no recipient
