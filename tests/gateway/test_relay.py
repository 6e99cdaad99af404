"""Relay mode against a recording next hop: 250 only when archived and accepted, per-recipient
answers mirrored, failures 4xx, and the next hop's answer archived with the message."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mailvault.archive.blobs import sha256_of
from mailvault.archive.lookup import load
from mailvault.archive.models import Role, Source
from mailvault.config import Settings
from tests.gateway.conftest import gateway_settings, running
from tests.mailfactory import make_message
from tests.servers import free_port
from tests.sink import Sink


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as started:
        yield started


def relay_settings(tmp_path: Path, database_url: str, next_hop: str) -> Settings:
    settings = gateway_settings(tmp_path, database_url, next_hop=next_hop)
    listener = settings.smtp.listeners[0].model_copy(update={"mode": "relay"})
    return settings.model_copy(update={"smtp": settings.smtp.model_copy(update={"listeners": [listener]})})


async def test_relayed_message_is_delivered_and_archived_with_bcc(
    tmp_path: Path, database_url: str, sink: Sink
) -> None:
    raw = make_message(subject="Proforma invoice", to="hans@kunde.de")
    async with running(relay_settings(tmp_path, database_url, sink.address)) as gateway:

        def send() -> dict[str, tuple[int, bytes]]:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
                client.ehlo("mx.huaqiang-elec.com.cn")
                client.docmd("XFORWARD", "NAME=pc17.office ADDR=10.1.2.17 PROTO=ESMTP")
                return client.sendmail(
                    "zhang.wei@huaqiang-elec.com.cn", ["hans@kunde.de", "boss@huaqiang-elec.com.cn"], raw
                )

        assert await asyncio.to_thread(send) == {}
        assert len(sink.handler.delivered) == 1
        delivered = sink.handler.delivered[0]
        assert delivered.raw == raw
        assert delivered.rcpt_tos == ["hans@kunde.de", "boss@huaqiang-elec.com.cn"]
        assert sink.handler.xforward[-1]["ADDR"] == "10.1.2.17"  # passed on to the next hop
        archive = await gateway.archived(1)
        try:
            with archive.db.reading() as session:
                source = session.scalars(select(Source)).one()
            assert archive.blobs.get(source.sha256) == raw
            assert source.detail["relay"]["code"] == 250
            assert source.detail["xforward"]["ADDR"] == "10.1.2.17"
            record = load(archive.db, source.archive_id)
            envelope = {p.address for p in record.participants if p.role == Role.ENVELOPE_TO.value}
            assert envelope == {"hans@kunde.de", "boss@huaqiang-elec.com.cn"}
        finally:
            archive.close()


async def test_recipient_refused_by_the_next_hop_is_refused_to_the_client(
    tmp_path: Path, database_url: str, sink: Sink
) -> None:
    sink.handler.refuse_recipients["gone@kunde.de"] = "550 5.1.1 User unknown"
    raw = make_message()
    async with running(relay_settings(tmp_path, database_url, sink.address)) as gateway:

        def send() -> dict[str, tuple[int, bytes]]:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
                return client.sendmail("a@huaqiang-elec.com.cn", ["hans@kunde.de", "gone@kunde.de"], raw)

        refused = await asyncio.to_thread(send)
        assert refused == {"gone@kunde.de": (550, b"5.1.1 User unknown")}
        assert sink.handler.delivered[0].rcpt_tos == ["hans@kunde.de"]
        archive = await gateway.archived(1)
        try:
            with archive.db.reading() as session:
                source = session.scalars(select(Source)).one()
            assert source.detail["relay"]["refused"] == {"gone@kunde.de": "550 5.1.1 User unknown"}
        finally:
            archive.close()


async def test_next_hop_down_answers_451_and_nothing_is_half_done(tmp_path: Path, database_url: str) -> None:
    nobody = f"127.0.0.1:{free_port()}"
    async with running(relay_settings(tmp_path, database_url, nobody)) as gateway:

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
                client.sendmail("a@huaqiang-elec.com.cn", ["hans@kunde.de"], make_message())

        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            await asyncio.to_thread(send)
        assert refused.value.smtp_code == 451


async def test_message_the_next_hop_rejects_is_archived_and_the_client_gets_451(
    tmp_path: Path, database_url: str, sink: Sink
) -> None:
    sink.handler.refuse_data = "554 5.7.1 Message content rejected"
    raw = make_message(subject="rejected downstream")
    async with running(relay_settings(tmp_path, database_url, sink.address)) as gateway:

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
                client.sendmail("a@huaqiang-elec.com.cn", ["hans@kunde.de"], raw)

        with pytest.raises(smtplib.SMTPDataError) as refused:
            await asyncio.to_thread(send)
        assert refused.value.smtp_code == 451  # the sender's queue keeps custody and retries
        archive = await gateway.archived(1)
        try:
            assert archive.blobs.get(sha256_of(raw)) == raw
            with archive.db.reading() as session:
                source = session.scalars(select(Source)).one()
            assert source.detail["relay"]["code"] == 554
        finally:
            archive.close()


async def test_several_messages_and_a_reset_in_one_session(
    tmp_path: Path, database_url: str, sink: Sink
) -> None:
    first, second = make_message(subject="one"), make_message(subject="two")
    async with running(relay_settings(tmp_path, database_url, sink.address)) as gateway:

        def session() -> None:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
                assert client.sendmail("a@huaqiang-elec.com.cn", ["x@kunde.de"], first) == {}
                client.mail("a@huaqiang-elec.com.cn")
                client.rcpt("abandoned@kunde.de")
                assert client.rset()[0] == 250  # the next hop's transaction is reset too
                assert client.sendmail("a@huaqiang-elec.com.cn", ["y@kunde.de"], second) == {}

        await asyncio.to_thread(session)
        assert [(d.rcpt_tos, d.raw) for d in sink.handler.delivered] == [
            (["x@kunde.de"], first),
            (["y@kunde.de"], second),
        ]
        archive = await gateway.archived(2)
        try:
            with archive.db.reading() as session_:
                codes = [s.detail["relay"]["code"] for s in session_.scalars(select(Source))]
            assert codes == [250, 250]
        finally:
            archive.close()


async def test_multi_line_answers_of_the_next_hop_stay_one_reply(
    tmp_path: Path, database_url: str, sink: Sink
) -> None:
    sink.handler.refuse_data = "554-5.7.1 Rejected by policy\r\n554 5.7.1 See the postmaster"
    async with running(relay_settings(tmp_path, database_url, sink.address)) as gateway:

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
                client.sendmail("a@huaqiang-elec.com.cn", ["hans@kunde.de"], make_message())

        with pytest.raises(smtplib.SMTPDataError) as refused:
            await asyncio.to_thread(send)
        assert refused.value.smtp_code == 451
        assert b"\n" not in refused.value.smtp_error
        assert b"Rejected by policy" in refused.value.smtp_error
