"""Known-answer searches on a small archive: every query has an exact expected set of messages,
so recall and precision are both checked (a missing and an extra message both fail)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.models import SourceKind
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.index import manage
from mailvault.index.engine import Engine, Sort
from mailvault.index.query import QueryError
from mailvault.index.search import search
from tests.mailfactory import make_message

PDF = b"%PDF-1.4 test"


def when(month: int, day: int, year: int = 2025) -> datetime:
    return datetime(year, month, day, 9, 0, tzinfo=UTC)


# label -> (message, envelope recipients or None)
MESSAGES: dict[str, tuple[bytes, tuple[str, ...] | None]] = {
    "full": (
        make_message(
            subject="报价单 Quotation PI-2024-031",
            body="深圳市华强电子有限公司 offers the parts, HS编码8471.\nPayment terms: T/T 30% deposit.\n",
            sender="张伟 <zhang.wei@huawei.com>",
            to="Hans Müller <hans@kunde.de>",
            attachments=[("invoice_PI-2024-031.pdf", PDF, "application/pdf")],
            date=when(3, 4),
        ),
        None,
    ),
    "short": (
        make_message(
            subject="Delivery",
            body="华强电子 will ship next week. Shipping by DHL.\n",
            sender="li.na@huaqiang-elec.com.cn",
            to="bob@brightway.co.uk",
            date=when(5, 1),
        ),
        None,
    ),
    "traditional": (
        make_message(
            subject="詢價",
            body="華強電子的報價已收到。\n",
            sender="王芳 <wangfang@163.com>",
            to="x@kunde.de",
            date=when(12, 1, 2024),
        ),
        None,
    ),
    "neighbour": (
        make_message(
            subject="采购",
            body="我们在华强北的市场采购元件。\n",
            sender="a@163.com",
            to="b@qq.com",
            date=when(2, 1),
        ),
        None,
    ),
    "boundary": (
        make_message(
            subject="口号", body="中华强国梦。\n", sender="c@163.com", to="d@qq.com", date=when(2, 2)
        ),
        None,
    ),
    "english": (
        make_message(
            subject="Payment terms and delivery",
            body="The payment terms are net 30. Shipment via sea.\n",
            sender="buyer@brightway.co.uk",
            to="li.na@huaqiang-elec.com.cn",
            date=when(6, 1),
        ),
        None,
    ),
    "apart": (
        make_message(
            subject="Reminder",
            body="The payment is due; the terms are unchanged.\n",
            sender="buyer@brightway.co.uk",
            to="li.na@huaqiang-elec.com.cn",
            date=when(6, 2),
        ),
        None,
    ),
    "name": (
        make_message(
            subject="Hello",
            body="hello again\n",
            sender="欧阳娜娜 <oyn@kunde.de>",
            to="e@qq.com",
            date=when(7, 1),
        ),
        None,
    ),
    "bcc": (
        make_message(
            subject="Contract draft",
            body="see the draft\n",
            sender="li.na@huaqiang-elec.com.cn",
            to="buyer@brightway.co.uk",
            date=when(7, 2),
        ),
        ("buyer@brightway.co.uk", "secret@boss.cn"),
    ),
    "large": (
        make_message(
            subject="Catalogue 2025",
            body="our catalogue\n",
            sender="li.na@huaqiang-elec.com.cn",
            to="bob@brightway.co.uk",
            attachments=[("catalogue.bin", bytes(range(256)) * 800, "application/octet-stream")],
            date=when(8, 1),
        ),
        None,
    ),
    "fullwidth": (
        make_message(
            subject="确认",
            body="ＰＩ－２０２４－０３１ confirmed\n",
            sender="f@163.com",
            to="g@qq.com",
            date=when(8, 2),
        ),
        None,
    ),
    "internal": (
        make_message(
            subject="内部通知",
            body="明天开会\n",
            sender="li.na@huaqiang-elec.com.cn",
            to="boss@huaqiang-elec.com.cn",
            date=when(9, 1),
        ),
        None,
    ),
    "mailbox": (
        make_message(
            subject="Samples for Huawei",
            body="the samples left today\n",
            sender="li.na@huaqiang-elec.com.cn",
            to="buyer@huawei.com",
            cc="Boss <boss@huaqiang-elec.com.cn>",
            date=when(9, 2),
        ),
        None,
    ),
}

# Imported from an employee's mailbox: owner and folder are recorded with the arrival.
MAILBOX_SOURCE = {"owner": "li.na@huaqiang-elec.com.cn", "folder": "INBOX/客户/华为"}


@pytest.fixture(scope="module", params=["whoosh", "tantivy"])
def indexed(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[Archive, Engine, dict[int, str]]]:
    """The known-answer archive, indexed by each engine: both must give the same answers."""
    from tests.conftest import make_settings

    tmp = tmp_path_factory.mktemp(f"search-{request.param}")
    settings: Settings = make_settings(
        tmp, f"sqlite:///{tmp / 'archive.sqlite3'}", index={"engine": request.param}
    )
    with Archive(settings) as archive:
        labels = {}
        for label, (raw, envelope) in MESSAGES.items():
            source = SourceInfo(
                kind=SourceKind.SMTP if envelope else SourceKind.FILE,
                origin="test",
                locator=label,
                envelope_from="li.na@huaqiang-elec.com.cn" if envelope else None,
                envelope_to=envelope or (),
                **(MAILBOX_SOURCE if label == "mailbox" else {}),  # type: ignore[arg-type]
            )
            result = archive.ingestor.ingest(Arrival(raw, source))
            labels[result.archive_id] = label
        assert manage.update(settings, archive) == len(MESSAGES)
        engine = manage.open_for_search(settings)
        assert engine.name == request.param
        try:
            yield archive, engine, labels
        finally:
            engine.close()


def found(indexed: tuple[Archive, Engine, dict[int, str]], query: str, **options: object) -> list[str]:
    archive, engine, labels = indexed
    page = search(archive, engine, query, limit=100, **options)  # type: ignore[arg-type]
    assert page.total == len(page.results)
    return [labels[r.archive_id] for r in page.results]


KNOWN_ANSWERS = [
    # Chinese: exact substrings, whatever the neighbours; traditional folds to simplified
    ("华强电子", {"full", "short", "traditional"}),
    ("華強電子", {"full", "short", "traditional"}),
    ("华强", {"full", "short", "traditional", "neighbour", "boundary"}),
    ("深圳市华强电子有限公司", {"full"}),
    ("华强北", {"neighbour"}),
    ("娜娜", {"name"}),
    ("欧阳娜娜", {"name"}),
    ("报价", {"full", "traditional"}),
    ("subject:报价", {"full"}),
    ("body:报价", {"traditional"}),
    # codes, mixed scripts, full-width forms
    ("PI-2024-031", {"full", "fullwidth"}),
    ("HS编码8471", {"full"}),
    ("8471", {"full"}),
    # English: stems, phrases vs words
    ('"payment terms"', {"full", "english"}),
    ("payment terms", {"full", "english", "apart"}),
    ("shipped", {"short"}),
    ("shipments", {"english"}),
    # addresses and domains are exact fields
    ("huawei.com", {"full", "mailbox"}),
    ("zhang.wei@", {"full"}),
    ("from:huawei.com", {"full"}),
    ("to:huawei.com", {"mailbox"}),
    ("cc:boss@huaqiang-elec.com.cn", {"mailbox"}),
    ("cc:boss", {"mailbox"}),
    ("owner:li.na@huaqiang-elec.com.cn", {"mailbox"}),
    ("folder:华为", {"mailbox"}),
    ("folder:客户", {"mailbox"}),
    ("from:张伟", {"full"}),
    ("to:hans@kunde.de", {"full"}),
    ("to:hans", {"full"}),
    ("domain:kunde.de", {"full", "name", "traditional"}),
    ("from:brightway.co.uk", {"english", "apart"}),
    ("bcc:secret@boss.cn", {"bcc"}),
    ("to:secret@boss.cn", {"bcc"}),
    ("cc:secret@boss.cn", set()),
    # filters
    ("has:attachment", {"full", "large"}),
    ("attachment:invoice", {"full"}),
    ("larger:100k", {"large"}),
    ("direction:internal", {"internal"}),
    ("after:2025-08-01", {"large", "fullwidth", "internal", "mailbox"}),
    ("before:2025-02-01", {"traditional"}),
    ("on:2025-02", {"neighbour", "boundary"}),
    # boolean structure
    ("-华强 payment", {"english", "apart"}),
    ("(华强 OR payment) before:2025-01-01", {"traditional"}),
    ("NOT has:attachment from:li.na@huaqiang-elec.com.cn", {"short", "bcc", "internal", "mailbox"}),
    ("direction:outbound from:li.na@", {"short", "bcc", "large", "mailbox"}),
    ("direction:inbound domain:brightway.co.uk", {"english", "apart"}),
    ("中华人民共和国", set()),
]


@pytest.mark.parametrize(("query", "expected"), KNOWN_ANSWERS, ids=[q for q, _ in KNOWN_ANSWERS])
def test_known_answers(
    indexed: tuple[Archive, Engine, dict[int, str]], query: str, expected: set[str]
) -> None:
    results = found(indexed, query)
    assert len(results) == len(set(results))
    assert set(results) == expected


def test_smaller_is_everything_but_the_large_message(indexed: tuple[Archive, Engine, dict[int, str]]) -> None:
    assert set(found(indexed, "smaller:100k")) == set(MESSAGES) - {"large"}


def test_date_sort_is_newest_first_and_relevance_prefers_the_subject(
    indexed: tuple[Archive, Engine, dict[int, str]],
) -> None:
    by_date = found(indexed, "华强", sort=Sort.DATE)
    assert by_date == ["short", "full", "boundary", "neighbour", "traditional"]
    assert found(indexed, "payment", sort=Sort.RELEVANCE)[0] == "english"


def test_pages_are_disjoint_and_cover_everything(indexed: tuple[Archive, Engine, dict[int, str]]) -> None:
    archive, engine, labels = indexed
    seen: list[int] = []
    for offset in range(0, len(MESSAGES), 5):
        page = search(archive, engine, "", offset=offset, limit=5)
        assert page.total == len(MESSAGES)
        seen += [r.archive_id for r in page.results]
    assert sorted(seen) == sorted(labels)


def test_snippets_mark_what_was_searched(indexed: tuple[Archive, Engine, dict[int, str]]) -> None:
    archive, engine, labels = indexed
    [result] = [r for r in search(archive, engine, "華強電子").results if labels[r.archive_id] == "full"]
    marked = [result.snippet.text[s:e] for s, e in result.snippet.highlights]
    assert marked == ["华强电子"]
    [result] = search(archive, engine, '"payment terms" 30%').results[:1]
    marked = [result.snippet.text[s:e].lower() for s, e in result.snippet.highlights]
    assert "payment" in marked


def test_a_bad_query_is_an_error_not_a_traceback(indexed: tuple[Archive, Engine, dict[int, str]]) -> None:
    archive, engine, _ = indexed
    with pytest.raises(QueryError):
        search(archive, engine, "from:")
