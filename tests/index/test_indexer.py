"""The indexer keeps the index exact: it catches up after being killed mid-commit, waits for ids
committed out of order, repairs a damaged index, rebuilds beside the live one, and follows new
mail within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from mailvault.archive.arrival import Arrival, SourceInfo, utcnow
from mailvault.archive.models import Message, SourceKind
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import SearchIndexError
from mailvault.index import indexer, manage
from mailvault.index.engine import Sort
from mailvault.index.indexer import Position, current_dir
from mailvault.index.query import parse
from tests.index.agreement import assert_index_agrees, hits
from tests.mailfactory import make_message
from tests.servers import wait_for_session_to_end


def archive_messages(archive: Archive, count: int, start: int = 0) -> list[int]:
    arrivals = [
        Arrival(
            make_message(subject=f"订单 order {n}", body=f"华强电子 quotation number Q{n:05d}\n" * 20),
            SourceInfo(kind=SourceKind.FILE, origin="test", locator=f"m{n}"),
        )
        for n in range(start, start + count)
    ]
    return [r.archive_id for r in archive.ingestor.ingest_many(arrivals)]


def _indexed_high(settings: Settings) -> int:
    directory = current_dir(settings.resolved_index_dir)
    try:
        position = Position.read(directory) if directory else None
    except SearchIndexError:
        return 0  # caught while being replaced
    return position.high if position else 0


def test_killed_mid_commit_the_indexer_catches_up_exactly(tmp_path: Path, settings: Settings) -> None:
    config = tmp_path / "mailvault.toml"
    archive_section = (
        f'[archive]\ndata_dir = "{settings.archive.data_dir}"\n'
        f'database_url = "{settings.archive.resolved_database_url}"\n'
    )
    # Two workers prepare batches ahead (prepare.py): killed, the writer must not leave them behind.
    index_section = "[index]\nbatch_size = 20\nworkers = 2\n"
    config.write_text(archive_section + index_section + '[log]\nlevel = "WARNING"\n')
    with Archive(settings) as archive:
        archive_messages(archive, 600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
    kills = 0
    for _ in range(2):  # killed twice, each time once it has committed something more
        before = _indexed_high(settings)
        process = subprocess.Popen(
            [sys.executable, "-m", "mailvault", "--config", str(config), "index", "update"],
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while process.poll() is None and _indexed_high(settings) <= before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # now inside a later batch: reading, analysing or committing it
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        wait_for_session_to_end(process.pid)
    assert kills == 2, "the indexer finished before it could be killed: give it more to do"
    directory = current_dir(settings.resolved_index_dir)
    assert directory is not None
    position = Position.read(directory)
    assert position is not None
    assert 0 < position.high < 600, "the kill must land in the middle of indexing"
    with Archive(settings) as archive:
        manage.update(settings, archive)
        assert_index_agrees(settings, archive)
    assert hits(settings, "Q00599") == 1


def _with_index(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"index": settings.index.model_copy(update=changes)})


@pytest.mark.parametrize("engine", ["whoosh", "tantivy"])
def test_worker_processes_build_the_index_one_process_builds(settings: Settings, engine: str) -> None:
    """Batches prepared ahead in other processes, including threads that merge across batches
    (a reply joining two earlier conversations re-indexes their messages), give the same index."""
    pooled = _with_index(settings, engine=engine, batch_size=7, workers=2)
    single = _with_index(pooled, workers=1, index_dir=settings.resolved_index_dir.with_name("single"))
    with Archive(settings) as archive:
        first = make_message(subject="报价 quotation", message_id="<a@x>", body="华强电子 PI-2024-031")
        second = make_message(subject="sample", message_id="<b@x>", body="深圳 sample order")
        late = make_message(
            subject="Re: quotation",
            message_id="<c@x>",
            extra_headers={"In-Reply-To": "<a@x>", "References": "<a@x> <b@x>"},
            body="both threads",
        )

        def arrival(raw: bytes, locator: str) -> Arrival:
            return Arrival(raw, SourceInfo(kind=SourceKind.FILE, origin="t", locator=locator))

        archive.ingestor.ingest_many([arrival(first, "a"), arrival(second, "b")])
        archive_messages(archive, 60)
        archive.ingestor.ingest_many([arrival(late, "c")])
        archive_messages(archive, 30, start=60)
        assert manage.update(pooled, archive) == 93 + 1  # the reply moved one earlier message
        assert manage.update(single, archive) == 93  # threads are assigned already: nothing moves
        assert_index_agrees(pooled, archive)
        with archive.db.reading() as session:
            threads = set(session.scalars(select(Message.thread_id).where(Message.subject != "")))
        assert len(threads) == 91, "the reply merged the two conversations into one"
    queries = ["华强电子", "quotation", "Q00042 OR Q00089", "深圳", '"sample order"', "-订单", "PI-2024-031"]
    for query in queries:
        totals = []
        for chosen in (pooled, single):
            engine_ = manage.open_for_search(chosen)
            try:
                page = engine_.search(parse(query), sort=Sort.DATE, offset=0, limit=200)
                totals.append(sorted(hit.archive_id for hit in page.hits))
            finally:
                engine_.close()
        assert totals[0] == totals[1], query
        assert totals[0], f"{query} finds nothing: the comparison would prove nothing"


@pytest.mark.postgresql
def test_an_id_committed_late_is_indexed_when_it_appears(settings: Settings) -> None:
    if not settings.archive.resolved_database_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL commits ids out of order")
    with Archive(settings) as archive:
        [first] = archive_messages(archive, 1)
        with archive.db.reading() as session:
            sha = session.scalar(select(Message.sha256).where(Message.archive_id == first))
        # A transaction takes the next id and stays open while a later one commits.
        slow = archive.db.engine.connect()
        transaction = slow.begin()
        late = slow.execute(
            insert(Message)
            .values(
                sha256=sha,
                size=1,
                dedup_key="late-commit",
                subject="committed late",
                parse_status="ok",
                archived_at=utcnow(),
            )
            .returning(Message.archive_id)
        ).scalar_one()
        [after] = archive_messages(archive, 1, start=1)
        assert after > late
        manage.update(settings, archive)
        position = Position.read(current_dir(settings.resolved_index_dir))  # type: ignore[arg-type]
        assert position is not None
        assert position.high == after
        assert late in position.gaps
        transaction.commit()
        slow.close()
        manage.update(settings, archive)
        position = Position.read(current_dir(settings.resolved_index_dir))  # type: ignore[arg-type]
        assert position is not None
        assert position.gaps == {}
        assert_index_agrees(settings, archive)


def test_a_damaged_index_is_rebuilt_at_start(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with Archive(settings) as archive:
        archive_messages(archive, 30)
        manage.update(settings, archive)
        directory = current_dir(settings.resolved_index_dir)
        assert directory is not None
        for segment in directory.glob("*.seg"):
            segment.write_bytes(b"\0" * 64)  # a disk error, or someone's editor
        for segment in directory.glob("*.trm"):
            segment.write_bytes(b"garbage")
        manage.update(settings, archive)
        assert "rebuilding the index from the archive" in caplog.text
        assert current_dir(settings.resolved_index_dir) != directory
        assert_index_agrees(settings, archive)


def test_an_index_without_its_position_is_rebuilt(settings: Settings) -> None:
    with Archive(settings) as archive:
        archive_messages(archive, 5)
        manage.update(settings, archive)
        directory = current_dir(settings.resolved_index_dir)
        assert directory is not None
        (directory / "position.json").unlink()
        manage.update(settings, archive)
        assert current_dir(settings.resolved_index_dir) != directory
        assert_index_agrees(settings, archive)


def test_reindex_builds_beside_the_live_index_which_keeps_answering(settings: Settings) -> None:
    with Archive(settings) as archive:
        archive_messages(archive, 40)
        manage.update(settings, archive)
        old = current_dir(settings.resolved_index_dir)
        live = manage.open_for_search(settings)
        try:
            assert manage.rebuild(settings, archive) == 40
            assert current_dir(settings.resolved_index_dir) != old
            assert live.search(parse("华强电子"), sort=Sort.DATE, offset=0, limit=5).total == 40
        finally:
            live.close()
        assert_index_agrees(settings, archive)


def test_status_counts_what_waits(settings: Settings) -> None:
    with Archive(settings) as archive:
        archive_messages(archive, 10)
        before = indexer.status(archive, settings.resolved_index_dir)
        assert (before.archived, before.indexed, before.waiting) == (10, 0, 10)
        assert before.lag_seconds is not None
        manage.update(settings, archive)
        archive_messages(archive, 3, start=10)
        after = indexer.status(archive, settings.resolved_index_dir)
        assert (after.archived, after.indexed, after.waiting) == (13, 10, 3)


def test_the_follower_makes_new_mail_searchable_within_seconds(settings: Settings) -> None:
    stop = threading.Event()
    with Archive(settings) as archive:
        follower = threading.Thread(target=manage.follow, args=(settings, archive, stop))
        follower.start()
        try:
            archive_messages(archive, 1, start=777)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if current_dir(settings.resolved_index_dir) and hits(settings, "Q00777") == 1:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("a new message was not searchable within 10 s")
        finally:
            stop.set()
            follower.join(30)
        with archive.db.reading() as session:
            assert session.scalar(select(func.count()).select_from(Message)) == 1


def test_reindex_switches_engine_and_the_indexer_follows_the_new_one(settings: Settings) -> None:
    with Archive(settings) as archive:
        archive_messages(archive, 20)
        manage.update(settings, archive)
        assert indexer.engine_of(current_dir(settings.resolved_index_dir)) == "whoosh"  # type: ignore[arg-type]
        assert manage.rebuild(settings, archive, engine="tantivy") == 20
        assert indexer.engine_of(current_dir(settings.resolved_index_dir)) == "tantivy"  # type: ignore[arg-type]
        archive_messages(archive, 2, start=20)
        manage.update(settings, archive)  # [index] engine still says whoosh: the index in use decides
        assert hits(settings, "Q00021") == 1
        assert_index_agrees(settings, archive)


def test_an_outgrown_engine_is_named_with_the_way_out() -> None:
    assert manage.capacity_warning("whoosh", 5_000) is None
    warning = manage.capacity_warning("whoosh", 2_000_000)
    assert warning is not None
    assert "reindex --engine tantivy" in warning
