"""The shared corpus of real third-party mail: all of it archived, all of it given back exactly,
and its Chinese decoded to the text its senders wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from mailvault.archive.blobs import sha256_of
from mailvault.archive.lookup import load
from mailvault.archive.models import Message, Source
from mailvault.archive.store import Archive
from mailvault.archive.verify import verify
from mailvault.fileimport.eml import EmlReader
from mailvault.fileimport.mbox import MboxReader
from mailvault.fileimport.reader import Reader
from mailvault.fileimport.runner import run_import
from mailvault.mime import parse_message

pytestmark = pytest.mark.corpus

LIMIT = 50 * 1024 * 1024

# (file, decoded subject, phrases of the decoded body): checked by reading the messages.
CHINESE = [
    (
        "lkml-erofs/t024-ac87ebe4e44d.eml",
        "Re: eros性能问题",
        ["我不清楚这个代表什么意思", "另外，我们建议的随机读"],
    ),
    (
        "lkml-erofs/t014-32a13234dd18.eml",
        "您好，我在2024年看到了社区的开源项目",
        ["您好，感谢您百忙之中阅读这份邮件", "我对这个项目很感兴趣，想试着做点贡献。"],
    ),
    (
        "lkml-erofs/t041-ed26d9778bd7.eml",
        "[erofs-utils] Report two resource leak issues and submit patches",
        ["本邮件及其附件含有小米公司的保密信息，仅限于发送给上面地址中列出的个人或群组。"],
    ),
    ("enron-dm-assignment/spam/test-14288.eml", "十萬個為什麼，教您孩子生活常識！conscript", []),
    # Big5 text labelled us-ascii: only detection finds it.
    ("enmime/parts/chardet-success-big-5.eml", "", ["夫九州之人，言語不同，生民已來，固常然矣。"]),
    # Real GBK mojibake in the source stays exactly what the sender sent.
    (
        "lkml-erofs/t028-d3af54de8181.eml",
        "Re: 回复: [WIP] [PATCH 04/12] erofs-utils: fuse: adjust larger extent handling",
        ["锟斤拷锟斤拷"],
    ),
]


@pytest.mark.parametrize(("name", "subject", "phrases"), CHINESE)
def test_chinese_is_decoded(corpus: Path, name: str, subject: str, phrases: list[str]) -> None:
    parsed = parse_message((corpus / name).read_bytes())
    assert parsed.subject == subject
    for phrase in phrases:
        assert phrase in parsed.text


def test_every_corpus_message_is_archived_and_exported_byte_identical(archive: Archive, corpus: Path) -> None:
    files = sorted(
        p for p in corpus.rglob("*") if p.is_file() and p.suffix != ".mbox" and p.name != "SOURCES.md"
    )
    mboxes = sorted(corpus.rglob("*.mbox"))
    readers: list[Reader] = [
        EmlReader(files, owner="corpus@example.com", max_message_size=LIMIT),
        *(MboxReader(m, owner=None, max_message_size=LIMIT) for m in mboxes),
    ]
    summary = run_import(archive.ingestor, readers, batch_size=100, show_progress=False)
    assert summary.failed == 0, summary.failures
    expected_messages = len(files) + sum(
        1 for m in mboxes for _ in MboxReader(m, owner=None, max_message_size=LIMIT)
    )
    assert summary.messages == expected_messages >= 985

    with archive.db.reading() as session:
        stored = {
            s.origin: s.sha256
            for s in session.scalars(select(Source).where(Source.detail["format"].as_string() == "eml"))
        }
        flagged = session.scalars(select(Message.archive_id).where(Message.parse_status == "failed")).all()
    for path in files:
        raw = path.read_bytes()
        assert stored[str(path)] == sha256_of(raw)
        assert archive.blobs.get(sha256_of(raw)) == raw, path
    for archive_id in flagged:
        assert load(archive.db, archive_id).message.parse_problems  # flagged with a reason

    report = verify(archive.db, archive.blobs)
    assert report.ok
    assert not report.findings
    assert report.checked == summary.new + summary.copies

    again = run_import(
        archive.ingestor,
        [EmlReader(files, owner="corpus@example.com", max_message_size=LIMIT)],
        batch_size=100,
        show_progress=False,
    )
    assert (again.new, again.copies, again.known) == (0, 0, len(files))


def test_fast_address_path_agrees_with_the_stdlib_parser(corpus: Path) -> None:
    import email
    import email.utils
    from email import policy

    from mailvault.mime.headers import _simple_pairs, unfold

    checked = 0
    for path in corpus.rglob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.compat32)
        for name, value in message.raw_items():
            if name.lower() not in ("from", "to", "cc", "bcc", "reply-to", "sender"):
                continue
            header = unfold(str(value))
            simple = _simple_pairs(header)
            if simple is None:
                continue  # not plain: the stdlib parser handles it
            stdlib = email.utils.getaddresses([header])
            assert simple == [(" ".join(n.split()), a) for n, a in stdlib], header
            checked += 1
    assert checked > 2000
