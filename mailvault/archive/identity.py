"""When are two arrivals the same message? Keys that survive a few changed headers.

The gateway's journaled copy and the copy later imported from the sender's Sent folder differ in
Received, Return-Path, Bcc and friends, but keep Message-ID, From and Date. A Message-ID is
trusted only together with author and date, since broken mailers reuse one for different mail;
without a Message-ID, the decoded subject, body text and attachments stand in for it.
"""

from __future__ import annotations

import hashlib

from mailvault.mime.model import ParsedMessage, ParseStatus


def dedup_key(parsed: ParsedMessage, sha256: str) -> str:
    """The key under which arrivals of one logical message meet (hex SHA-256)."""
    if parsed.status is ParseStatus.FAILED:
        basis = ["raw", sha256]  # nothing readable: only identical bytes are the same message
    else:
        author = parsed.author.addr if parsed.author else ""
        date = parsed.date.isoformat() if parsed.date else ""
        if parsed.message_id:
            basis = ["mid", parsed.message_id, author, date]
        else:
            basis = [
                "fp",
                author,
                date,
                " ".join(parsed.subject.split()),
                hashlib.sha256(" ".join(parsed.text.split()).encode("utf-8", "replace")).hexdigest(),
                ",".join(sorted(a.sha256 for a in parsed.attachments)),
            ]
    return hashlib.sha256("\x00".join(basis).encode("utf-8", "surrogatepass")).hexdigest()
