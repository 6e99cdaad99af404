"""Conversation threads: by references in any arrival order, merged when a message joins two,
by subject only for replies without references, and on real mailing-list threads."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.conversations import assign, subject_key
from mailvault.archive.models import Message, SourceKind
from mailvault.archive.store import Archive
from mailvault.archive.thread_view import thread_of
from tests.mailfactory import make_message


@pytest.mark.parametrize(
    ("subject", "key", "replied"),
    [
        ("Re: Quotation PI-2024-031", "quotation pi-2024-031", True),
        ("RE: FW: Fwd: quotation pi-2024-031", "quotation pi-2024-031", True),
        ("AW: WG: Angebot", "angebot", True),
        ("SV: VS: Tilbud", "tilbud", True),
        ("回复：报价单", "报价单", True),
        ("答复: 回复： 转发：报价单", "报价单", True),
        ("回覆：報價單", "报价单", True),
        ("轉寄：報價單", "报价单", True),
        ("Re[2]: order", "order", True),
        ("[erofs-dev] Re: [PATCH v2] erofs: fix", "[patch v2] erofs: fix", True),
        ("[PATCH] erofs: fix", "[patch] erofs: fix", False),
        ("Quotation PI-2024-031", "quotation pi-2024-031", False),
        ("Regarding the order", "regarding the order", False),
        ("", "", False),
    ],
)
def test_subject_keys_drop_reply_and_forward_prefixes(subject: str, key: str, replied: bool) -> None:
    assert subject_key(subject) == (key, replied)


def arrive(archive: Archive, raw: bytes, locator: str) -> int:
    source = SourceInfo(kind=SourceKind.FILE, origin="test", locator=locator)
    return archive.ingestor.ingest(Arrival(raw, source)).archive_id


def threads_of(archive: Archive) -> dict[int, int | None]:
    with archive.db.reading() as session:
        return {a: t for a, t in session.execute(select(Message.archive_id, Message.thread_id))}


T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_a_reply_archived_before_its_original_joins_it(archive: Archive) -> None:
    reply = arrive(
        archive,
        make_message(
            subject="Re: 报价",
            message_id="<b@x>",
            extra_headers={"In-Reply-To": "<a@x>", "References": "<a@x>"},
        ),
        "reply",
    )
    assign(archive.db, [reply])
    original = arrive(archive, make_message(subject="报价", message_id="<a@x>"), "original")
    assign(archive.db, [original])
    threads = threads_of(archive)
    assert threads[reply] == threads[original] is not None
    [root] = thread_of(archive.db, reply)
    assert root.archive_id == original
    assert [c.archive_id for c in root.children] == [reply]


def test_a_message_that_joins_two_threads_merges_them(archive: Archive) -> None:
    a = arrive(archive, make_message(subject="one", message_id="<a@x>"), "a")
    b = arrive(archive, make_message(subject="two", message_id="<b@x>"), "b")
    first = assign(archive.db, [a, b])
    assert first.threaded == [a, b]
    assert threads_of(archive)[a] != threads_of(archive)[b]
    both = arrive(
        archive,
        make_message(subject="Re: one", message_id="<c@x>", extra_headers={"References": "<a@x> <b@x>"}),
        "c",
    )
    result = assign(archive.db, [both])
    assert result.moved == [b], "b's thread moved into a's: its index document must be redone"
    assert len(set(threads_of(archive).values())) == 1
    assert assign(archive.db, [a, b, both]).threaded == [], "a second call changes nothing"


def test_subject_fallback_needs_a_reply_prefix_and_a_shared_participant(archive: Archive) -> None:
    original = arrive(
        archive,
        make_message(
            subject="Order 4711",
            message_id=None,
            sender="li.na@huaqiang-elec.com.cn",
            to="hans@kunde.de",
            date=T0,
        ),
        "o",
    )
    reply = arrive(
        archive,
        make_message(
            subject="AW: Order 4711",
            message_id=None,
            sender="hans@kunde.de",
            to="li.na@huaqiang-elec.com.cn",
            date=T0 + timedelta(days=1),
        ),
        "r",
    )
    stranger = arrive(
        archive,
        make_message(
            subject="Re: Order 4711",
            message_id=None,
            sender="x@other.com",
            to="y@other.com",
            date=T0 + timedelta(days=1),
        ),
        "s",
    )
    same_subject_no_prefix = arrive(
        archive,
        make_message(
            subject="Order 4711",
            message_id=None,
            sender="hans@kunde.de",
            to="li.na@huaqiang-elec.com.cn",
            date=T0 + timedelta(days=2),
        ),
        "n",
    )
    late = arrive(
        archive,
        make_message(
            subject="Re: Order 4711",
            message_id=None,
            sender="hans@kunde.de",
            to="li.na@huaqiang-elec.com.cn",
            date=T0 + timedelta(days=200),
        ),
        "l",
    )
    assign(archive.db, [original, reply, stranger, same_subject_no_prefix, late])
    threads = threads_of(archive)
    assert threads[reply] == threads[original]
    assert threads[stranger] != threads[original], "no participant in common"
    assert threads[same_subject_no_prefix] != threads[original], "a new message, not a reply"
    assert threads[late] != threads[original], "too far apart"


def test_copies_from_several_mailboxes_and_the_gateway_make_one_thread(archive: Archive) -> None:
    question = make_message(
        subject="询价", message_id="<q@kunde.de>", sender="hans@kunde.de", to="li.na@huaqiang-elec.com.cn"
    )
    answer = make_message(
        subject="回复：询价",
        message_id="<a@huaqiang-elec.com.cn>",
        sender="li.na@huaqiang-elec.com.cn",
        to="hans@kunde.de",
        extra_headers={"In-Reply-To": "<q@kunde.de>"},
    )
    ids = [
        archive.ingestor.ingest(Arrival(raw, SourceInfo(kind=kind, origin=origin, locator=loc))).archive_id
        for raw, kind, origin, loc in [
            (question, SourceKind.SMTP, "127.0.0.1", "Q1"),
            (question, SourceKind.IMAP, "li.na@imap.163.com", "1"),
            (answer, SourceKind.IMAP, "li.na@imap.163.com", "2"),
            (answer, SourceKind.FILE, "/exports/boss.mbox", "0"),
        ]
    ]
    assign(archive.db, ids)
    assert len(set(ids)) == 2, "copies of one message are one archived message"
    assert len({threads_of(archive)[i] for i in ids}) == 1


# The corpus groups its files by References. Three of its "threads" are one conversation of the
# same afternoon ("eros性能问题", ZHOU and Gao Xiang): QQ Mail sent two replies without References
# or In-Reply-To, which only the subject fallback ("回复：" prefix, base subject, the same people)
# can join. Every other corpus thread must come out exactly as it is.
SUBJECT_JOINED = {"t024", "t038", "t040"}


def test_corpus_threads_are_found_exactly(archive: Archive, corpus: Path) -> None:
    files = sorted((corpus / "lkml-erofs").glob("t*.eml"))
    arrivals = [
        Arrival(path.read_bytes(), SourceInfo(kind=SourceKind.FILE, origin="corpus", locator=path.name))
        for path in files
    ]
    expected: dict[int, str] = {}
    for path, result in zip(files, archive.ingestor.ingest_many(arrivals), strict=True):
        group = path.name.split("-")[0]
        expected[result.archive_id] = "t024+t038+t040" if group in SUBJECT_JOINED else group
    assign(archive.db, sorted(expected))
    ours: dict[int | None, set[str]] = defaultdict(set)
    for archive_id, thread in threads_of(archive).items():
        ours[thread].add(expected[archive_id])
    merged = {thread: names for thread, names in ours.items() if len(names) > 1}
    assert not merged, f"threads merged that are separate conversations: {merged}"
    assert len(ours) == len(set(expected.values())), "a corpus thread was split"
