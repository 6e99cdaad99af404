"""The customers directory on SQLite and PostgreSQL: exact figures per domain, contacts, open
threads, text filter, sorting, pagination, and a manager's scope narrowing every count."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, select

from mailvault.access.scope import Scope
from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.conversations import assign
from mailvault.archive.customers import Sort, directory, domain_detail, threads_with
from mailvault.archive.models import Message, SourceKind
from mailvault.archive.store import Archive
from mailvault.config import load_settings
from tests.mailfactory import make_message

COMPANY = ["example.com"]
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
ALICE = "Alice Chen <alice@example.com>"
BOB = "Bob <bob@example.com>"
CAROL = "Carol <carol@sales.example.com>"  # a sub-domain is the company too
LI = "深圳华强电子 <li@huaqiang.cn>"
WANG = "王芳 <wang@huaqiang.cn>"
HANS = "Hans Müller <hans@kunde.de>"


def at(days: float) -> datetime:
    """A test date as the archive stores it: naive UTC."""
    return (T0 + timedelta(days=days)).replace(tzinfo=None)


@dataclass(frozen=True)
class Built:
    archive: Archive
    ids: dict[str, int]  # m1 … m12

    def thread(self, name: str) -> int:
        with self.archive.db.reading() as session:
            thread_id = session.scalar(select(Message.thread_id).where(Message.archive_id == self.ids[name]))
        assert thread_id is not None
        return thread_id


# (name, from, to, cc, subject, days after T0, Message-ID, In-Reply-To and References, extra headers)
MAIL: list[tuple[str, str, str, str | None, str, float, str, str | None, dict[str, str]]] = [
    # huaqiang.cn: thread A answered; thread B unanswered (only forwarded internally); m10 alone.
    ("m1", LI, ALICE, None, "询价 PI-1", 0, "<q1@huaqiang.cn>", None, {}),
    ("m2", ALICE, LI, WANG, "Re: 询价 PI-1", 1, "<a1@example.com>", "<q1@huaqiang.cn>", {}),
    ("m3", WANG, ALICE, BOB, "样品 sample", 2, "<s1@huaqiang.cn>", None, {}),
    ("m4", ALICE, BOB, None, "Fwd: 样品 sample", 3, "<f1@example.com>", "<s1@huaqiang.cn>", {}),
    # kunde.de: thread C answered; m7 unanswered; thread D answered by the customer (open).
    ("m5", HANS, BOB, None, "Order 4711", 4, "<o1@kunde.de>", None, {}),
    ("m6", BOB, HANS, None, "AW: Order 4711", 5, "<o2@example.com>", "<o1@kunde.de>", {}),
    ("m7", HANS, BOB, CAROL, "Reklamation", 6, "<r1@kunde.de>", None, {}),
    # Reply-To names a domain that must not become a customer: anyone can write one.
    ("m8", CAROL, HANS, None, "Price list", 7, "<p1@example.com>", None, {"Reply-To": "x@reply.example.net"}),
    ("m9", ALICE, BOB, None, "Lunch", 8, "<l1@example.com>", None, {}),  # internal: nowhere
    ("m10", "李伟 <li@huaqiang.cn>", ALICE, None, "新询价", 9, "<q2@huaqiang.cn>", None, {}),
    ("m11", HANS, CAROL, None, "Re: Price list", 7 + 1 / 24, "<p2@kunde.de>", "<p1@example.com>", {}),
    ("m12", ALICE, "buyer@zeta-trading.com", None, "Catalogue", 10, "<c1@example.com>", None, {}),
]
UNTHREADED = "m10"  # never given a thread: a thread of its own all the same


@pytest.fixture
def built(tmp_path: Path, database_url: str) -> Iterator[Built]:
    settings = load_settings(
        archive={"data_dir": tmp_path / "data", "database_url": database_url, "company_domains": COMPANY},
        ingest={"parse_workers": 1},
    )
    with Archive(settings) as archive:
        ids: dict[str, int] = {}
        for name, sender, to, cc, subject, days, message_id, parent, extra in MAIL:
            headers = dict(extra)
            if parent:
                headers |= {"In-Reply-To": parent, "References": parent}
            raw = make_message(
                sender=sender,
                to=to,
                cc=cc,
                subject=subject,
                date=T0 + timedelta(days=days),
                message_id=message_id,
                extra_headers=headers,
            )
            source = SourceInfo(SourceKind.FILE, "/import/test.mbox", locator=name)
            ids[name] = archive.ingestor.ingest(Arrival(raw, source)).archive_id
        assign(archive.db, [i for name, i in ids.items() if name != UNTHREADED])
        yield Built(archive, ids)


def everyone() -> ColumnElement[bool] | None:
    return Scope(True, frozenset(), frozenset()).condition(Message.archive_id)


def manager_of_bob() -> ColumnElement[bool] | None:
    return Scope(False, frozenset({"bob@example.com"}), frozenset()).condition(Message.archive_id)


def test_every_external_domain_with_exact_figures(built: Built) -> None:
    total, rows = directory(built.archive.db, COMPANY, scope_condition=everyone(), sort="name")
    assert total == 3, "no company domain, no Reply-To domain, nothing from the internal mail"
    huaqiang, kunde, zeta = rows
    assert huaqiang.as_dict() == {
        "domain": "huaqiang.cn",
        "messages": 4,  # m1 m2 m3 m10; the internal forward m4 is not correspondence
        "messages_in": 3,
        "messages_out": 1,
        "first_contact": "2025-03-01T08:00:00Z",
        "last_contact": "2025-03-10T08:00:00Z",
        "contacts": 2,
        "employees": ["alice@example.com", "bob@example.com"],
        "employee_count": 2,
        "open_threads": 2,  # B (answered by nobody outside) and m10
    }
    assert (kunde.domain, kunde.messages, kunde.messages_in, kunde.messages_out) == ("kunde.de", 5, 3, 2)
    assert (kunde.first_contact, kunde.last_contact) == (at(4), at(7 + 1 / 24))
    assert (kunde.contacts, kunde.open_threads) == (1, 2)  # m7, and D where Hans wrote last
    assert kunde.employees == ["bob@example.com", "carol@sales.example.com"]  # 3 messages each
    assert (zeta.domain, zeta.messages, zeta.messages_in, zeta.messages_out, zeta.open_threads) == (
        "zeta-trading.com",
        1,
        0,
        1,
        0,
    )
    assert zeta.employees == ["alice@example.com"]
    json.dumps([r.as_dict() for r in rows])


SORTS: dict[Sort, list[str]] = {
    "name": ["huaqiang.cn", "kunde.de", "zeta-trading.com"],
    "last": ["zeta-trading.com", "huaqiang.cn", "kunde.de"],
    "messages": ["kunde.de", "huaqiang.cn", "zeta-trading.com"],
}


def test_sorting(built: Built) -> None:
    for sort, order in SORTS.items():
        _, rows = directory(built.archive.db, COMPANY, scope_condition=None, sort=sort)
        assert [r.domain for r in rows] == order, sort


def test_pagination_counts_every_domain(built: Built) -> None:
    db = built.archive.db
    total, rows = directory(db, COMPANY, scope_condition=None, sort="name", offset=1, limit=1)
    assert (total, [r.domain for r in rows]) == (3, ["kunde.de"])
    assert directory(db, COMPANY, scope_condition=None, offset=5) == (3, [])
    with pytest.raises(ValueError, match="unknown sort"):
        directory(db, COMPANY, scope_condition=None, sort="size")  # type: ignore[arg-type]


TEXTS = {
    "华强": ["huaqiang.cn"],  # a Chinese display name
    "王芳": ["huaqiang.cn"],
    "müller": ["kunde.de"],
    "HANS@": ["kunde.de"],  # an address, case-insensitive
    "Trading": ["zeta-trading.com"],  # the domain itself
    ".c": ["huaqiang.cn", "zeta-trading.com"],
    "example": [],  # company addresses and the Reply-To domain are not contacts
    "%": [],  # a LIKE wildcard is just a character
    "  ": ["huaqiang.cn", "kunde.de", "zeta-trading.com"],
}


def test_text_filter(built: Built) -> None:
    for text, domains in TEXTS.items():
        total, rows = directory(built.archive.db, COMPANY, scope_condition=None, text=text, sort="name")
        assert (total, [r.domain for r in rows]) == (len(domains), domains), text


def test_a_manager_sees_only_the_mail_of_the_employee_granted(built: Built) -> None:
    total, rows = directory(built.archive.db, COMPANY, scope_condition=manager_of_bob(), sort="name")
    assert total == 2, "nothing with zeta-trading.com involves Bob"
    huaqiang, kunde = rows
    # Only m3 (Bob in Cc); the internal forward m4 to Bob is in scope but is no correspondence.
    assert (huaqiang.messages, huaqiang.messages_in, huaqiang.messages_out) == (1, 1, 0)
    assert (huaqiang.first_contact, huaqiang.last_contact) == (at(2), at(2))
    assert (huaqiang.contacts, huaqiang.open_threads) == (1, 1)
    assert huaqiang.employees == ["alice@example.com", "bob@example.com"]
    # m5 m6 m7; Carol's thread D never reached Bob.
    assert (kunde.messages, kunde.messages_in, kunde.messages_out) == (3, 2, 1)
    assert (kunde.first_contact, kunde.last_contact, kunde.open_threads) == (at(4), at(6), 1)
    assert kunde.employees == ["bob@example.com", "carol@sales.example.com"]
    assert kunde.employee_count == 2
    # Text matches only what the scope shows: Li wrote nothing Bob saw.
    assert directory(built.archive.db, COMPANY, scope_condition=manager_of_bob(), text="华强") == (0, [])


def test_a_domain_grant_and_an_empty_scope(built: Built) -> None:
    kunde_only = Scope(False, frozenset(), frozenset({"kunde.de"})).condition(Message.archive_id)
    total, rows = directory(built.archive.db, COMPANY, scope_condition=kunde_only)
    assert (total, [(r.domain, r.messages) for r in rows]) == (1, [("kunde.de", 5)])
    nothing = Scope(False, frozenset(), frozenset()).condition(Message.archive_id)
    assert directory(built.archive.db, COMPANY, scope_condition=nothing) == (0, [])


def test_domain_detail_lists_contacts_and_employees(built: Built) -> None:
    detail = domain_detail(built.archive.db, COMPANY, "HuaQiang.CN", scope_condition=None)
    assert detail is not None
    assert detail.summary.messages == 4
    li, wang = detail.contacts
    # Li: "深圳华强电子" on m1 and m2, "李伟" once (m10, the latest): the most seen wins.
    assert li.as_dict() == {
        "address": "li@huaqiang.cn",
        "name": "深圳华强电子",
        "messages": 3,
        "messages_in": 2,
        "messages_out": 1,
        "first_contact": "2025-03-01T08:00:00Z",
        "last_contact": "2025-03-10T08:00:00Z",
    }
    assert (wang.address, wang.name, wang.messages, wang.messages_in, wang.messages_out) == (
        "wang@huaqiang.cn",
        "王芳",
        2,
        1,
        1,
    )
    assert (wang.first_contact, wang.last_contact) == (at(1), at(2))
    assert [(e.address, e.messages) for e in detail.employees] == [
        ("alice@example.com", 4),
        ("bob@example.com", 1),
    ]
    json.dumps(detail.as_dict())


def test_domain_detail_in_scope_and_of_unknown_or_company_domains(built: Built) -> None:
    db = built.archive.db
    detail = domain_detail(db, COMPANY, "huaqiang.cn", scope_condition=manager_of_bob())
    assert detail is not None
    assert [(c.address, c.messages) for c in detail.contacts] == [("wang@huaqiang.cn", 1)]
    assert [(e.address, e.messages) for e in detail.employees] == [
        ("alice@example.com", 1),
        ("bob@example.com", 1),
    ]
    assert domain_detail(db, COMPANY, "zeta-trading.com", scope_condition=manager_of_bob()) is None
    assert domain_detail(db, COMPANY, "nowhere.test", scope_condition=None) is None
    assert domain_detail(db, COMPANY, "example.com", scope_condition=None) is None
    assert domain_detail(db, COMPANY, "reply.example.net", scope_condition=None) is None


def test_threads_with_a_domain_newest_first(built: Built) -> None:
    ids = built.ids
    total, threads = threads_with(built.archive.db, COMPANY, domain="huaqiang.cn", scope_condition=None)
    assert total == 3
    alone, b, a = threads
    assert alone.as_dict() == {
        "thread_id": -ids["m10"],
        "subject": "新询价",
        "messages": 1,
        "first_date": "2025-03-10T08:00:00Z",
        "last_date": "2025-03-10T08:00:00Z",
        "last_direction": "inbound",
        "last_archive_id": ids["m10"],
        "open": True,
        "employees": ["alice@example.com"],
    }
    # The internal forward is part of the thread, but answers nobody: still open.
    assert (b.thread_id, b.subject, b.messages, b.first_date, b.last_date) == (
        built.thread("m3"),
        "样品 sample",
        2,
        at(2),
        at(3),
    )
    assert (b.last_direction, b.last_archive_id, b.open) == ("internal", ids["m4"], True)
    assert b.employees == ["alice@example.com", "bob@example.com"]
    assert (a.thread_id, a.subject, a.messages, a.last_direction, a.last_archive_id, a.open) == (
        built.thread("m1"),
        "询价 PI-1",
        2,
        "outbound",
        ids["m2"],
        False,
    )
    json.dumps([t.as_dict() for t in threads])


def test_threads_with_an_address_in_scope_and_paginated(built: Built) -> None:
    db = built.archive.db
    total, threads = threads_with(db, COMPANY, address="Wang@huaqiang.cn", scope_condition=None)
    assert (total, [t.thread_id for t in threads]) == (2, [built.thread("m3"), built.thread("m1")])
    total, threads = threads_with(db, COMPANY, domain="huaqiang.cn", scope_condition=None, offset=1, limit=1)
    assert (total, [t.thread_id for t in threads]) == (3, [built.thread("m3")])
    total, threads = threads_with(db, COMPANY, domain="kunde.de", scope_condition=manager_of_bob())
    assert [(t.thread_id, t.messages, t.open) for t in threads] == [
        (built.thread("m7"), 1, True),
        (built.thread("m5"), 2, False),
    ]
    assert total == 2, "thread D (Carol and Hans) never reached Bob"
    total, threads = threads_with(db, COMPANY, domain="kunde.de", scope_condition=None, offset=9)
    assert (total, threads) == (3, [])
    with pytest.raises(ValueError, match="domain or an address"):
        threads_with(db, COMPANY, scope_condition=None)
