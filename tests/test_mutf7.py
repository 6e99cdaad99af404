"""Modified UTF-7 folder names (RFC 3501 §5.1.3), as 163, QQ and Dovecot send them."""

from __future__ import annotations

import pytest

from mailvault.imapsync.mutf7 import decode_mutf7, encode_mutf7


@pytest.mark.parametrize(
    ("encoded", "name"),
    [
        ("&XfJT0ZAB-", "已发送"),
        ("&UXZO1mWHTvZZOQ-/&XeVPXA-", "其他文件夹/工作"),
        ("INBOX", "INBOX"),
        ("R&AOk-sum&AOk-", "Résumé"),
        ("A&-B", "A&B"),
    ],
)
def test_known_names_both_ways(encoded: str, name: str) -> None:
    assert decode_mutf7(encoded) == name
    assert encode_mutf7(name) == encoded


def test_malformed_shift_is_kept_as_written() -> None:
    assert decode_mutf7("bad&@@@-name") == "bad&@@@-name"
    assert decode_mutf7("open&XfJT") == "open&XfJT"
