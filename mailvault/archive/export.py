"""Writing archived messages out: mboxrd framing around the exact stored bytes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import BinaryIO

from mailvault.archive.lookup import Reference

_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


def write_mbox(handle: BinaryIO, messages: Iterable[tuple[bytes, Reference]]) -> int:
    """Append messages in mboxrd form (RFC 4155): `From ` line, `>`-escaped body, blank line."""
    count = 0
    for raw, ref in messages:
        stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
        handle.write(f"From mailvault-{ref.archive_id} {stamp}\n".encode("ascii"))
        body = _FROM_LINE.sub(rb">\1", raw)
        handle.write(body)
        if not body.endswith(b"\n"):
            handle.write(b"\n")
        handle.write(b"\n")
        count += 1
    return count
