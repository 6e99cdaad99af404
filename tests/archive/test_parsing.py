"""The parse pool used by bulk import gives exactly what parsing in-process gives."""

from __future__ import annotations

from mailvault.archive.parsing import parse_pool
from mailvault.mime import parse_message
from tests.mailfactory import make_message


def test_process_pool_matches_in_process_parsing() -> None:
    raws = [make_message(subject=f"报价 {n}", body=f"第 {n} 封\n") for n in range(40)] + [b"\x00junk"]
    with parse_pool(2) as parse_map:
        pooled = list(parse_map(raws))
    assert pooled == [parse_message(raw) for raw in raws]
    assert pooled[-1].status.value == "failed"
