"""Checkpoints: the head printed, mailed outside and recorded; a checkpoint that was not handed
out as configured is not recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import select

from mailvault.archive.store import Archive
from mailvault.errors import DeliveryError, MailvaultError
from mailvault.ledger import chain, checkpoint
from mailvault.ledger.models import LedgerEntry
from mailvault.ledger.verify import Checkpoint, parse_checkpoint, verify_ledger
from tests.conftest import make_settings
from tests.ledger.conftest import fill
from tests.sink import Sink


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as running:
        yield running


def test_printed_checkpoint_is_recorded_and_sealed(vault: Archive) -> None:
    fill(vault)
    taken = checkpoint.take(vault.settings, vault.db, created_by="root@mail", print_only=True)
    assert taken.head == chain.Head(6, taken.head.entry_hash)
    assert f"    mailvault verify --checkpoint 6:{taken.head.entry_hash}\n" in taken.text
    assert "archive:     3 messages, 4 arrivals, 2 audit events, 3 stored copies" in taken.text
    assert taken.text.isascii()
    assert parse_checkpoint(taken.text) == [Checkpoint(6, taken.head.entry_hash)]

    [row] = checkpoint.recorded(vault.db)
    assert (row.checkpoint_id, row.seq, row.entry_hash, row.mailed_to, row.tsa_token) == (
        taken.checkpoint_id,
        6,
        taken.head.entry_hash,
        "",
        None,
    )
    with vault.db.reading() as session:
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.seq == 7)).one()
    assert (entry.kind, entry.ref) == ("checkpoint", str(row.checkpoint_id))
    assert json.loads(entry.payload) == {
        "seq": 6,
        "entry_hash": taken.head.entry_hash,
        "created_by": "root@mail",
        "mailed_to": [],
        "tsa_url": "",
    }
    report = verify_ledger(vault.db)
    assert report.findings == []
    assert report.checkpoints == 1  # the recorded checkpoint is compared with the chain


def test_empty_ledger_has_nothing_to_checkpoint(vault: Archive) -> None:
    with pytest.raises(MailvaultError, match="the ledger is empty"):
        checkpoint.take(vault.settings, vault.db, created_by="root@mail")
    assert checkpoint.recorded(vault.db) == []


def test_checkpoint_is_mailed_outside(tmp_path: Path, database_url: str, sink: Sink) -> None:
    settings = make_settings(
        tmp_path,
        database_url,
        ledger={"checkpoint_mail_to": ["auditor@notar.example", "board@holding.example"]},
        notify={"smtp_server": sink.address, "from_address": "archive@huaqiang-elec.com.cn"},
    )
    with Archive(settings) as archive:
        fill(archive)
        taken = checkpoint.take(settings, archive.db, created_by="root@mail")
        [row] = checkpoint.recorded(archive.db)
    assert row.mailed_to == "auditor@notar.example, board@holding.example"
    [mail] = sink.handler.delivered
    assert mail.mail_from == "archive@huaqiang-elec.com.cn"
    assert sorted(mail.rcpt_tos) == ["auditor@notar.example", "board@holding.example"]
    parsed: Message = message_from_bytes(mail.raw)
    assert parsed["Subject"] == f"mailvault ledger checkpoint: entry 6 {taken.head.entry_hash[:16]}"
    body = parsed.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert body.decode().replace("\r\n", "\n") == taken.text  # CRLF on the wire (RFC 5321)
    # What the auditor keeps is enough to check the archive later.
    assert parse_checkpoint(mail.raw.decode()) == [Checkpoint(6, taken.head.entry_hash)]


def test_refused_mail_records_nothing(tmp_path: Path, database_url: str, sink: Sink) -> None:
    sink.handler.refuse_recipients["auditor@notar.example"] = "550 5.1.1 no such user"
    settings = make_settings(
        tmp_path,
        database_url,
        ledger={"checkpoint_mail_to": ["auditor@notar.example"]},
        notify={"smtp_server": sink.address},
    )
    with Archive(settings) as archive:
        fill(archive)
        with pytest.raises(
            DeliveryError, match=r"refused the checkpoint's recipients \(auditor@notar.example: 550"
        ):
            checkpoint.take(settings, archive.db, created_by="root@mail")
        assert checkpoint.recorded(archive.db) == []
        assert verify_ledger(archive.db).entries == 6
