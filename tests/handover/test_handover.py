"""A handover on SQLite and PostgreSQL: reconciliation against the mailbox, customers ranked with
open conversations and deal documents, and a successor who then reads exactly the handed-over
customers' mail."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path

import pytest
from sqlalchemy import select

from mailvault.access import audit, users
from mailvault.access.audit import AuditFilter
from mailvault.access.models import UserRole
from mailvault.access.scope import Scope
from mailvault.archive.arrival import Arrival, SourceInfo, utcnow
from mailvault.archive.conversations import assign
from mailvault.archive.models import ImapAccount, Message, Source, SourceKind
from mailvault.archive.store import Archive
from mailvault.config import Settings, load_settings
from mailvault.handover import workflow
from mailvault.handover.customers import OpenReason
from mailvault.handover.view import gather
from mailvault.imapsync.state import record_vanished
from tests.mailfactory import make_message

ZHANG = "zhang.wei@huaqiang-elec.com.cn"
LIU = "liu.yang@huaqiang-elec.com.cn"
ACCOUNT = f"{ZHANG}@imap.163.com"
NOW = datetime(2026, 11, 1, 9, 0)
PASSWORD = "correct horse battery staple"  # noqa: S105 (a test user's)


def ago(days: float) -> datetime:
    return (NOW - timedelta(days=days)).replace(tzinfo=UTC)


@dataclass
class Built:
    archive: Archive
    settings: Settings
    ids: dict[str, int]


# name, from, to, subject, days ago, Message-ID, parent, attachment name, IMAP folder (None: gateway only)
MAIL = [
    # kunde.de: a big customer. Thread K1 answered by us; K2 the customer waits; K3 our PI unanswered.
    ("k1", "Hans <hans@kunde.de>", ZHANG, "Inquiry 500 pcs", 40, "<k1@kunde.de>", None, None, "INBOX"),
    ("k2", ZHANG, "hans@kunde.de", "Re: Inquiry 500 pcs", 39, "<k2@hq>", "<k1@kunde.de>", None, "Sent"),
    ("k3", "Hans <hans@kunde.de>", ZHANG, "Complaint batch 7", 5, "<k3@kunde.de>", None, None, "INBOX"),
    ("k4", ZHANG, "einkauf@kunde.de", "Proforma", 2, "<k4@hq>", None, "PI-2026-118.pdf", "Sent"),
    # A buyer on gmail: his own customer, keyed by address, not by gmail.com.
    ("g1", "Tom Buyer <tom.buyer@gmail.com>", ZHANG, "样品", 300, "<g1@gmail>", None, None, "INBOX"),
    ("g2", ZHANG, "tom.buyer@gmail.com", "Re: 样品", 299, "<g2@hq>", "<g1@gmail>", None, None),
    # Someone else's gmail correspondent: not a customer of Zhang.
    ("o1", "Ann <ann@gmail.com>", LIU, "hello", 10, "<o1@gmail>", None, None, None),
    # Internal mail: no customer.
    ("i1", LIU, ZHANG, "lunch", 1, "<i1@hq>", None, None, "INBOX"),
]


@pytest.fixture
def built(tmp_path: Path, database_url: str) -> Iterator[Built]:
    settings = load_settings(
        archive={
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "company_domains": ["huaqiang-elec.com.cn"],
        },
        ingest={"parse_workers": 1},
    )
    with Archive(settings) as archive:
        ids: dict[str, int] = {}
        uid = 0
        for name, sender, to, subject, days, message_id, parent, attachment, folder in MAIL:
            raw = make_message(
                sender=sender,
                to=to,
                subject=subject,
                date=ago(days),
                message_id=message_id,
                extra_headers={"In-Reply-To": parent, "References": parent} if parent else {},
                attachments=[(attachment, b"%PDF-1.4 test", "application/pdf")] if attachment else [],
            )
            envelope_to = (parseaddr(to)[1],)
            gateway = SourceInfo(
                SourceKind.SMTP,
                "127.0.0.1",
                locator=name,
                envelope_from=parseaddr(sender)[1],
                envelope_to=envelope_to,
            )
            ids[name] = archive.ingestor.ingest(Arrival(raw, gateway)).archive_id
            if folder:
                uid += 1
                source = SourceInfo(
                    SourceKind.IMAP, ACCOUNT, folder=folder, owner=ZHANG, uidvalidity=1, uid=uid
                )
                archive.ingestor.ingest(Arrival(raw, source))
        assign(archive.db, list(ids.values()))
        with archive.db.writing() as session:
            session.add(
                ImapAccount(
                    name=ACCOUNT,
                    host="imap.163.com",
                    port=993,
                    security="tls",
                    username=ZHANG,
                    owner=ZHANG,
                    registered=False,
                    created_at=utcnow(),
                    last_sync_at=utcnow(),
                )
            )
        # Zhang deletes the whole kunde.de correspondence from the mailbox.
        with archive.db.reading() as session:
            kunde = [ids[n] for n in ("k1", "k2", "k3", "k4")]
            doomed = session.scalars(
                select(Source.source_id).where(Source.origin == ACCOUNT, Source.archive_id.in_(kunde))
            ).all()
        assert record_vanished(archive.db, ACCOUNT, doomed, final=True) == (0, 4)
        yield Built(archive, settings, ids)


def test_reconcile_shows_what_was_deleted_and_that_it_is_still_archived(built: Built) -> None:
    workflow.open_handover(built.archive.db, ZHANG, by="boss")
    view = gather(built.archive.db, built.settings, ZHANG)
    r = view.reconciliation
    zhangs = {"k1", "k2", "k3", "k4", "g1", "g2", "i1"}
    assert r.archived == len(zhangs)
    assert r.by_gateway == len(zhangs)
    assert r.by_import == 6  # k1-k4, g1, i1 were in the mailbox
    assert r.in_mailboxes == 2  # g1 and i1 remain
    assert r.deleted == 4
    assert r.moved == 0
    assert {x.archive_id for x in r.removals} == {built.ids[n] for n in ("k1", "k2", "k3", "k4")}
    assert all(x.how == "deleted" and x.noticed_at is not None for x in r.removals)
    assert [m.as_dict()["deleted"] for m in r.mailboxes] == [4]
    # Deleted at the source, still readable in the archive.
    with built.archive.db.reading() as session:
        hashes = {
            row.archive_id: row.sha256 for row in session.execute(select(Message.archive_id, Message.sha256))
        }
    for removal in r.removals:
        assert b"huaqiang-elec.com.cn" in built.archive.blobs.get(hashes[removal.archive_id])


def test_customers_ranked_with_open_conversations_and_deal_documents(built: Built) -> None:
    workflow.open_handover(built.archive.db, ZHANG, by="boss")
    view = gather(built.archive.db, built.settings, ZHANG)
    keys = [c.key for c in view.customers]
    assert keys == ["kunde.de", "tom.buyer@gmail.com"], "ranked by recency and volume; no internal, no Ann"
    kunde, tom = view.customers
    assert (kunde.messages, kunde.messages_in, kunde.messages_out) == (4, 2, 2)
    assert kunde.last_direction == "outbound"
    assert {c.address for c in kunde.contacts} == {"hans@kunde.de", "einkauf@kunde.de"}
    reasons = {t.subject: t.reason for t in kunde.open_threads}
    assert reasons == {
        "Complaint batch 7": OpenReason.AWAITING_REPLY,
        "Proforma": OpenReason.DEAL_NO_FOLLOW_UP,
    }
    assert [a.filename for a in kunde.attachments] == ["PI-2026-118.pdf"]
    assert kunde.attachments[0].deal_document
    assert tom.open_threads == [], "the buyer's question was answered"
    assert tom.first_contact is not None
    assert kunde.first_contact is not None
    assert tom.first_contact < kunde.first_contact


def test_successor_reads_exactly_the_handed_over_customers(built: Built) -> None:
    db = built.archive.db
    users.add_user(db, "liu", PASSWORD, UserRole.EMPLOYEE, email=LIU)
    workflow.open_handover(db, ZHANG, by="boss")
    before = Scope.of(users.get_named(db, "liu"))
    with db.reading() as session:
        assert before.visible(session, [built.ids["k1"], built.ids["g1"]]) == set()
    assert workflow.grant_successor(db, ZHANG, "liu", ["kunde.de"], by="boss") == 1
    assert workflow.grant_successor(db, ZHANG, "liu", ["kunde.de"], by="boss") == 0, (
        "granting twice adds nothing"
    )
    scope = Scope.of(users.get_named(db, "liu"))
    condition = scope.condition(Message.archive_id)
    assert condition is not None
    with db.reading() as session:
        everything = set(session.scalars(select(Message.archive_id)))
        visible = scope.visible(session, everything)
        by_condition = set(session.scalars(select(Message.archive_id).where(condition)))
    kunde = {built.ids[n] for n in ("k1", "k2", "k3", "k4")}
    own = {built.ids["o1"], built.ids["i1"]}  # Liu's own mail
    assert visible == kunde | own
    assert by_condition == visible, "the SQL condition and the per-id check agree"
    state = workflow.state(db, ZHANG)
    assert state.successor == "liu"
    assert state.granted_by == "boss"
    total, events = audit.events(db, AuditFilter(action="grant-successor"))
    assert total == 2
    assert events[0].detail["customers"] == ["kunde.de"]


def test_secure_needs_a_registered_mailbox_and_records_who_asked(built: Built) -> None:
    db = built.archive.db
    workflow.open_handover(db, ZHANG, by="boss")
    with pytest.raises(workflow.HandoverError, match="no registered mailbox"):
        workflow.request_secure(db, ZHANG, by="boss")
    with db.writing() as session:
        account = session.scalars(select(ImapAccount)).one()
        account.registered = True
    assert workflow.request_secure(db, ZHANG, by="boss") == [ACCOUNT]
    state = workflow.state(db, ZHANG)
    assert state.secured_by == "boss"
    assert state.secured_at is not None
    (progress,) = state.accounts
    assert progress.requested_at == state.secured_at
    assert not progress.secured, "asked for, but no sync has ended since"
    total, _ = audit.events(db, AuditFilter(action="handover"))
    assert total == 2  # opened, secure requested


def test_a_successor_must_be_a_reader_other_than_the_employee(built: Built) -> None:
    db = built.archive.db
    users.add_user(db, "zhang", PASSWORD, UserRole.EMPLOYEE, email=ZHANG)
    users.add_user(db, "audit", PASSWORD, UserRole.AUDITOR)
    workflow.open_handover(db, ZHANG, by="boss")
    with pytest.raises(workflow.HandoverError, match="departing employee"):
        workflow.grant_successor(db, ZHANG, "zhang", ["kunde.de"], by="boss")
    with pytest.raises(workflow.HandoverError, match="auditor"):
        workflow.grant_successor(db, ZHANG, "audit", ["kunde.de"], by="boss")
    with pytest.raises(workflow.HandoverError, match="at least one"):
        workflow.grant_successor(db, ZHANG, "zhang", [], by="boss")
