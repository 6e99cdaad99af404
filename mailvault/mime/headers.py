"""Header decoding: RFC 2047 encoded words, raw 8-bit bytes, addresses, dates and Message-IDs."""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
from datetime import UTC, datetime

from mailvault.mime.charset import decode_bytes
from mailvault.mime.model import Address

# RFC 2047 §2; the charset may carry an RFC 2231 language suffix (`utf-8*zh-cn`).
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*?)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_MSG_ID = re.compile(r"<([^<>\s]+)>")


def unfold(value: str) -> str:
    """RFC 5322 §2.2.3: a line break followed by white space is part of the value's white space."""
    return _FOLD.sub("", value).replace("\r", "").replace("\n", "")


def to_bytes(value: str) -> bytes:
    """Recover the bytes behind a header string that the stdlib parser surrogate-escaped."""
    try:
        return value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")


def decode_header(value: str) -> str:
    """Decoded, unfolded text of a header value; raw 8-bit bytes have their charset detected.

    Adjacent encoded words in the same charset are joined as bytes before decoding, since
    Outlook and Foxmail split GBK and UTF-8 characters across words (RFC 2047 §6.2 forbids it).
    """
    value = unfold(value)
    pieces: list[str] = []
    pending_charset: str | None = None
    pending: bytearray = bytearray()
    position = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset is not None:
            pieces.append(decode_bytes(bytes(pending), pending_charset).text)
            pending.clear()
            pending_charset = None

    for match in _ENCODED_WORD.finditer(value):
        gap = value[position : match.start()]
        # RFC 2047 §6.2: white space between two encoded words is not displayed.
        if gap and not (gap.isspace() and pending_charset is not None):
            flush()
            pieces.append(_decode_raw(gap))
        charset = match.group(1).split("*", 1)[0].lower()
        data = _decode_word(match.group(2), match.group(3))
        if data is None:  # not really an encoded word: keep the text as written
            flush()
            pieces.append(match.group(0))
        else:
            if pending_charset is not None and pending_charset != charset:
                flush()
            pending_charset = charset
            pending += data
        position = match.end()
    flush()
    pieces.append(_decode_raw(value[position:]))
    # A tab left by unfolding is white space like any other; display it as a space.
    return "".join(pieces).replace("\t", " ").strip()


def _decode_raw(text: str) -> str:
    if text.isascii():
        return text
    return decode_bytes(to_bytes(text)).text


def _decode_word(encoding: str, text: str) -> bytes | None:
    try:
        if encoding in "bB":
            cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
            return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
        return binascii.a2b_qp(text.encode("ascii", "surrogateescape"), header=True)
    except (binascii.Error, ValueError):
        return None


# One mailbox of the plain forms nearly all mail uses: `a@b`, `Name <a@b>`, `"Name, Jr" <a@b>`.
# Anything else (comments, groups, escapes, route addresses) goes to the stdlib's full parser.
_SIMPLE_MAILBOX = re.compile(
    r"""\s*(?:(?:"(?P<quoted>[^"\\]*)"|(?P<name>[^",<>()\\:;@]*?))\s*<(?P<angle>[^<>()\s",;:\\]+@[^<>()\s",;:\\]+)>"""
    r"""|(?P<bare>[^<>()\s",;:\\]+@[^<>()\s",;:\\]+))\s*(?:,|$)"""
)


def _simple_pairs(value: str) -> list[tuple[str, str]] | None:
    """(name, address) pairs when the whole value is plain mailboxes; None otherwise."""
    pairs: list[tuple[str, str]] = []
    position = 0
    while position < len(value):
        match = _SIMPLE_MAILBOX.match(value, position)
        if match is None or match.end() == position:
            return None if value[position:].strip() else pairs
        quoted = match.group("quoted")
        # A display name is a sequence of words: runs of white space count as one space.
        name = " ".join((quoted if quoted is not None else match.group("name") or "").split())
        pairs.append((name, match.group("angle") or match.group("bare")))
        position = match.end()
    return pairs


def parse_addresses(values: list[str]) -> list[Address]:
    """Addresses from one or more header values; display names decoded, addresses lower-cased."""
    pairs: list[tuple[str, str]] = []
    for value in values:
        unfolded = unfold(value)
        simple = _simple_pairs(unfolded)
        # The stdlib parser is thorough but costs a quarter of a millisecond per header.
        pairs.extend(simple if simple is not None else email.utils.getaddresses([unfolded]))
    found: list[Address] = []
    for name, addr in pairs:
        name = decode_header(name).strip().strip('"').strip()
        addr = decode_header(addr).strip().strip("<>").strip().lower()
        if "@" not in addr and addr and not name:
            # A bare word such as "undisclosed-recipients" is a name, not an address.
            name, addr = addr, ""
        if name or addr:
            found.append(Address(name=name, addr=addr))
    return found


def parse_date(value: str) -> datetime | None:
    """The Date header as naive UTC; a zone-less date is taken as UTC (RFC 5322 `-0000`)."""
    try:
        parsed = email.utils.parsedate_to_datetime(unfold(value).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            return None
    return parsed.replace(tzinfo=None)


def parse_message_id(value: str) -> str | None:
    """The first `<id>` of the value, without brackets; a bracket-less single token also counts."""
    text = unfold(value)
    match = _MSG_ID.search(text)
    if match:
        return match.group(1)
    stripped = text.strip()
    if stripped and " " not in stripped and "@" in stripped:
        return stripped
    return None


def parse_message_ids(value: str) -> list[str]:
    """Every `<id>` in References or In-Reply-To, in order, without duplicates."""
    seen: dict[str, None] = {}
    for found in _MSG_ID.findall(unfold(value)):
        seen.setdefault(found, None)
    return list(seen)
