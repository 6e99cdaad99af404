"""What both engines must do the same way at the edges: an empty index, replacing a document."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from mailvault.index.document import IndexDocument
from mailvault.index.engine import Sort
from mailvault.index.indexer import open_engine
from mailvault.index.query import parse


@pytest.mark.parametrize("engine", ["whoosh", "tantivy"])
def test_an_empty_index_answers_and_a_rewritten_document_replaces_the_old(
    tmp_path: Path, engine: str
) -> None:
    index = open_engine(tmp_path / f"{engine}-1")
    try:
        assert index.document_count() == 0
        assert index.contains([1, 2]) == set()
        assert index.search(parse("华强"), sort=Sort.DATE, offset=0, limit=10).total == 0
        doc = IndexDocument(archive_id=7, date=datetime(2025, 1, 2, 3, 4), size=100, direction="inbound")
        doc.subject = "华强电子 quotation"
        index.write([doc])
        doc.subject = "其他 subject"
        index.write([doc])  # indexed again (a thread merge, a crash before the position was saved)
        assert index.document_count() == 1
        assert index.contains([7, 8]) == {7}
        assert index.search(parse("华强"), sort=Sort.DATE, offset=0, limit=10).total == 0
        [hit] = index.search(parse("其他"), sort=Sort.RELEVANCE, offset=0, limit=10).hits
        assert (hit.archive_id, hit.date) == (7, datetime(2025, 1, 2, 3, 4))
    finally:
        index.close()
