"""parse_message: raw bytes to a ParsedMessage; never raises, a failure is reported in the result."""

from __future__ import annotations

import email
import email.message
import logging
import re
from email import policy

from mailvault.mime.headers import (
    decode_header,
    parse_addresses,
    parse_date,
    parse_message_id,
    parse_message_ids,
)
from mailvault.mime.model import ParsedMessage, ParseStatus
from mailvault.mime.walk import Walker

log = logging.getLogger(__name__)

_OBS_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.MULTILINE)

_HEADER_END = re.compile(rb"\r?\n\r?\n")

_ADDRESS_HEADERS = {
    "from": "from_",
    "sender": "sender",
    "reply-to": "reply_to",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
}


def parse_message(raw: bytes) -> ParsedMessage:
    """Decode everything a person or the index needs from the raw message.

    The stdlib parser in its `compat32` mode is used for structure: it accepts anything and is
    about five times faster than the modern policy, whose header classes raise on real-world
    address lists. Header text, charsets and addresses are decoded by our own code.
    """
    try:
        return _parse(raw, Walker(ParsedMessage())).result
    except RecursionError:
        return _failed("MIME structure too deeply nested to read")
    except Exception as exc:  # a parser bug must never stop a message from being archived
        log.debug("parse failed", exc_info=True)
        return _failed(f"unparseable ({type(exc).__name__}: {str(exc)[:200]})")


def parse_for_display(raw: bytes) -> Walker:
    """As parse_message, also keeping what showing the message needs: its HTML and the bytes of
    each attachment (walker.html, walker.contents, walker.content_ids)."""
    walker = Walker(ParsedMessage(), for_display=True)
    try:
        return _parse(raw, walker)
    except Exception as exc:  # a message that cannot be shown is shown raw
        return Walker(_failed(f"unparseable ({type(exc).__name__})"), for_display=True)


def _failed(reason: str) -> ParsedMessage:
    return ParsedMessage(status=ParseStatus.FAILED, problems=[reason])


def _parse(raw: bytes, walker: Walker) -> Walker:
    if not raw.strip():
        walker.result = _failed("empty message")
        return walker
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    obsolete = False
    if not msg.keys() and _OBS_FIELD.match(raw):
        # RFC 5322 §4.5.1 obsolete syntax allows white space before the colon; the stdlib
        # parser does not, so parse a copy with it removed (the stored bytes stay as they are).
        end = _HEADER_END.search(raw)
        cut = end.start() if end else len(raw)
        repaired = _OBS_FIELD.sub(rb"\1:", raw[:cut]) + raw[cut:]
        msg = email.message_from_bytes(repaired, policy=policy.compat32)
        obsolete = True
    if not msg.keys():
        walker.result = _failed("no header fields: not an RFC 5322 message")
        return walker
    result = walker.result
    if obsolete:
        result.flag("obsolete header syntax (white space before colon)")
    _read_headers(msg, result)
    walker.walk(msg)
    result.text = walker.text
    return walker


def _read_headers(msg: email.message.Message, result: ParsedMessage) -> None:
    grouped: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        grouped.setdefault(name.lower(), []).append(str(value))

    for header, attribute in _ADDRESS_HEADERS.items():
        if header in grouped:
            setattr(result, attribute, parse_addresses(grouped[header]))

    if "subject" in grouped:
        result.subject = decode_header(grouped["subject"][0])
    if "date" in grouped:
        result.date = parse_date(grouped["date"][0])
        if result.date is None:
            result.flag("unreadable Date header")
    if "message-id" in grouped:
        result.message_id = parse_message_id(grouped["message-id"][0])
        if result.message_id is None:
            result.flag("unreadable Message-ID header")
    if "in-reply-to" in grouped:
        ids = parse_message_ids(grouped["in-reply-to"][0])
        result.in_reply_to = ids[0] if ids else None
    if "references" in grouped:
        result.references = parse_message_ids(" ".join(grouped["references"]))
    if not result.from_ and not result.sender:
        result.flag("no From address")
