"""SMTP dialogues with a real client (smtplib) against the running gateway."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import pytest
from sqlalchemy import select

from mailvault.archive.blobs import sha256_of
from mailvault.archive.lookup import load
from mailvault.archive.models import Role, Source
from mailvault.gateway.handler import GatewayHandler, ListenerPolicy
from tests.gateway.conftest import Gateway, data_stream, gateway_settings, running
from tests.mailfactory import make_message


def send(
    port: int, sender: str, recipients: list[str], raw: bytes, **kwargs: object
) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.test")
        return client.sendmail(sender, recipients, raw, **kwargs)  # type: ignore[arg-type]


def as_received(raw: bytes) -> bytes:
    """What the server stores: the client's bytes with CRLF line ends (smtplib adds them)."""
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


async def test_ehlo_offers_what_postfix_needs(gateway: Gateway) -> None:
    def ehlo() -> str:
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as client:
            code, text = client.ehlo("client.test")
            assert code == 250
            return text.decode()

    features = await asyncio.to_thread(ehlo)
    for feature in ("SIZE 10240000", "8BITMIME", "SMTPUTF8", "XFORWARD NAME ADDR PROTO HELO"):
        assert feature in features


async def test_journaled_message_is_archived_with_its_envelope(gateway: Gateway) -> None:
    raw = make_message(subject="报价 PI-2024-031", to="hans@kunde.de")
    refused = await asyncio.to_thread(
        send,
        gateway.port,
        "zhang.wei@huaqiang-elec.com.cn",
        ["archive+hans=kunde.de@archive.example", "archive+boss=kunde.de@archive.example"],
        raw,
    )
    assert refused == {}
    archive = await gateway.archived(1)
    try:
        with archive.db.reading() as session:
            source = session.scalars(select(Source)).one()
        assert archive.blobs.get(source.sha256) == as_received(raw)
        assert source.detail["rcpt_tos"] == [
            "archive+hans=kunde.de@archive.example",
            "archive+boss=kunde.de@archive.example",
        ]
        assert source.detail["helo"] == "client.test"
        assert source.origin == "127.0.0.1"
        record = load(archive.db, source.archive_id)
        envelope_to = {p.address for p in record.participants if p.role == Role.ENVELOPE_TO.value}
        assert envelope_to == {"hans@kunde.de", "boss@kunde.de"}  # boss was a Bcc: in no header
        assert record.message.subject == "报价 PI-2024-031"
        assert record.message.direction == "outbound"
    finally:
        archive.close()


async def test_eight_bit_and_malformed_mail_is_archived_exactly(gateway: Gateway) -> None:
    eight_bit = b"From: a@kunde.de\r\nSubject: \xb1\xa8\xbc\xdb\r\n\r\n\xc4\xfa\xba\xc3\r\n"
    broken = b"Content-Type: multipart/mixed; boundary=NEVER\r\n\r\nno parts at all\r\n"
    for raw in (eight_bit, broken):
        assert (
            await asyncio.to_thread(send, gateway.port, "a@kunde.de", ["x@huaqiang-elec.com.cn"], raw) == {}
        )
    archive = await gateway.archived(2)
    try:
        for raw in (eight_bit, broken):
            assert archive.blobs.get(sha256_of(raw)) == raw
        with archive.db.reading() as session:
            ids = list(session.scalars(select(Source.archive_id)))
        statuses = {load(archive.db, i).message.parse_status for i in ids}
        assert "defects" in statuses
        subjects = {load(archive.db, i).message.subject for i in ids}
        assert "报价" in subjects  # raw GBK header bytes decoded
    finally:
        archive.close()


async def test_oversize_message_gets_552_and_nothing_is_journaled(tmp_path: Path, database_url: str) -> None:
    settings = gateway_settings(tmp_path, database_url, max_message_size=5000)
    async with running(settings) as gateway:
        big = make_message(body="x" * 10_000 + "\n")
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            await asyncio.to_thread(send, gateway.port, "a@kunde.de", ["b@huaqiang-elec.com.cn"], big)
        assert refused.value.smtp_code == 552

        # Without the SIZE parameter the limit is enforced after DATA.
        def without_size() -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
                client.helo("old.client")
                client.mail("a@kunde.de")
                client.rcpt("b@huaqiang-elec.com.cn")
                return client.data(big)

        code, _ = await asyncio.to_thread(without_size)
        assert code == 552
        assert not any(settings.archive.data_dir.joinpath("spool").glob("*.spool")) or all(
            p.stat().st_size == 0 for p in settings.archive.data_dir.joinpath("spool").glob("*.spool")
        )


async def test_too_many_recipients_get_452(tmp_path: Path, database_url: str) -> None:
    async with running(gateway_settings(tmp_path, database_url, max_recipients=2)) as gateway:
        refused = await asyncio.to_thread(
            send, gateway.port, "a@kunde.de", ["b@x.cn", "c@x.cn", "d@x.cn"], make_message()
        )
        assert refused == {"d@x.cn": (452, b"4.5.3 Too many recipients")}


async def test_client_outside_allowed_networks_is_refused(tmp_path: Path, database_url: str) -> None:
    async with running(
        gateway_settings(tmp_path, database_url, allowed_networks=["192.0.2.0/24"])
    ) as gateway:
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            await asyncio.to_thread(smtplib.SMTP, "127.0.0.1", gateway.port, timeout=10)
        assert refused.value.smtp_code == 554


async def test_client_that_disconnects_mid_data_leaves_nothing(gateway: Gateway) -> None:
    def half_message() -> None:
        with data_stream(gateway.port) as stream:
            stream.write(b"Subject: cut off\r\n\r\nhalf a mess")
            stream.flush()

    await asyncio.to_thread(half_message)
    raw = make_message(subject="after the cut")
    assert await asyncio.to_thread(send, gateway.port, "a@kunde.de", ["b@x.cn"], raw) == {}
    archive = await gateway.archived(1)
    try:
        with archive.db.reading() as session:
            shas = list(session.scalars(select(Source.sha256)))
        assert shas == [sha256_of(as_received(raw))]
    finally:
        archive.close()


async def test_internal_error_answers_451_not_500() -> None:
    handler = GatewayHandler(spool=None, policy=ListenerPolicy("journal", 10, ""))  # type: ignore[arg-type]
    reply = await handler.handle_exception(RuntimeError("bug"))
    assert reply.startswith("451 4.3.0")


async def test_exchange_journal_reports_are_unwrapped_and_merged(gateway: Gateway) -> None:
    from tests.mailfactory_journal import journal_report

    original = make_message(message_id="<q-031@huaqiang-elec.com.cn>", to="hans@kunde.de")
    head = [
        "Sender: zhang.wei@huaqiang-elec.com.cn",
        "Subject: Quotation",
        "Message-Id: <q-031@huaqiang-elec.com.cn>",
    ]
    # Exchange bifurcates: one report per group of recipients, each listing its own.
    first = journal_report(original, [*head, "To: hans@kunde.de", "Bcc: boss@huaqiang-elec.com.cn"])
    second = journal_report(
        original,
        [*head, "To: wang.fang@huaqiang-elec.com.cn, Expanded: sales@huaqiang-elec.com.cn"],
        report_id="<report-2@journal.contoso.com>",
    )
    for report in (first, second):
        refused = await asyncio.to_thread(
            send, gateway.port, "journal@huaqiang-elec.com.cn", ["archive@archive.example"], report
        )
        assert refused == {}
    archive = await gateway.archived(2)
    try:
        with archive.db.reading() as session:
            sources = list(session.scalars(select(Source).order_by(Source.source_id)))
        assert {s.archive_id for s in sources} == {sources[0].archive_id}  # one message
        assert {s.sha256 for s in sources} == {sha256_of(original)}  # the original, unaltered
        record = load(archive.db, sources[0].archive_id)
        envelope = {p.address for p in record.participants if p.role == Role.ENVELOPE_TO.value}
        assert envelope == {"hans@kunde.de", "boss@huaqiang-elec.com.cn", "wang.fang@huaqiang-elec.com.cn"}
        senders = {p.address for p in record.participants if p.role == Role.ENVELOPE_FROM.value}
        assert senders == {"zhang.wei@huaqiang-elec.com.cn"}
        copies = {b.sha256 for b in record.blobs}
        assert copies == {sha256_of(original), sha256_of(as_received(first)), sha256_of(as_received(second))}
        assert archive.blobs.get(sha256_of(as_received(first))) == as_received(first)  # reports kept too
        expanded = sources[1].detail["journal_report"]["recipients"][0]
        assert expanded["expanded_from"] == "sales@huaqiang-elec.com.cn"
    finally:
        archive.close()


async def test_data_transparency_long_lines_and_pipelining(gateway: Gateway) -> None:
    """RFC 5321 §4.5.2: a leading dot was doubled by the client and is removed; lines over 1,000
    bytes are kept, not refused; a command pipelined right after the message is still answered."""
    message = (
        b"Subject: dots\r\n\r\n.hidden line\r\n..two dots\r\nplain\r\n" + b"x" * 5000 + b"\r\n.\r\n.x\r\n"
    )
    stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in message.split(b"\r\n"))

    def talk() -> list[bytes]:
        with data_stream(gateway.port) as stream:
            stream.write(stuffed + b".\r\nMAIL FROM:<next@kunde.de>\r\nQUIT\r\n")
            stream.flush()
            return [stream.readline(), stream.readline(), stream.readline()]

    replies = await asyncio.to_thread(talk)
    assert replies[0].startswith(b"250 2.0.0 Ok: queued as")
    assert replies[1].startswith(b"250")  # the pipelined MAIL FROM
    assert replies[2].startswith(b"221")
    archive = await gateway.archived(1)
    try:
        assert archive.blobs.get(sha256_of(message)) == message
    finally:
        archive.close()


async def test_empty_message_is_journaled(gateway: Gateway) -> None:
    def talk() -> bytes:
        with data_stream(gateway.port) as stream:
            stream.write(b".\r\n")
            stream.flush()
            return stream.readline()

    assert (await asyncio.to_thread(talk)).startswith(b"250 ")
    (await gateway.archived(1)).close()


def test_journal_address_decoding() -> None:
    from mailvault.gateway.journal import decode_recipient

    assert decode_recipient("archive+hans=kunde.de@archive.example", "archive.example") == "hans@kunde.de"
    assert decode_recipient("archive+a.b+c=x.co.uk@ARCHIVE.example", "archive.example") == "a.b+c@x.co.uk"
    assert decode_recipient("archive-sender+z=h.cn@archive.example", "archive.example") is None
    assert decode_recipient("someone@kunde.de", "archive.example") == "someone@kunde.de"
    assert decode_recipient("archive@archive.example", "archive.example") == "archive@archive.example"
    assert (
        decode_recipient("archive+hans=kunde.de@archive.example", "")
        == "archive+hans=kunde.de@archive.example"
    )
