"""Exchange / Microsoft 365 envelope journal reports: the original message, attached unaltered, and
the envelope the report lists (sender and every To, Cc, Bcc, expanded and forwarded recipient).

The report body is one field per line (Exchange's "Journal report format"): `Sender:`, `Subject:`,
`Message-Id:`, then `To:`, `Cc:`, `Bcc:` or `Recipient:` lines, each optionally followed by
`, Expanded: <group>` or `, Forwarded: <original>`; also `On-Behalf-Of:`.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import quopri
import re
from dataclasses import asdict, dataclass, field

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_FIELD = re.compile(
    r"^(Sender|Subject|Message-Id|On-Behalf-Of|To|Cc|Bcc|Recipient)\s*:\s*(.*)$", re.IGNORECASE
)
_RECIPIENT_ROLES = {"to", "cc", "bcc", "recipient"}


@dataclass(frozen=True, slots=True)
class JournalRecipient:
    role: str  # to, cc, bcc or recipient (Exchange could not tell which)
    address: str
    expanded_from: str = ""  # the distribution group it was expanded from
    forwarded_from: str = ""  # the original recipient, when redirected


@dataclass(frozen=True, slots=True)
class JournalReport:
    original: bytes  # the journaled message, byte for byte as attached
    sender: str
    message_id: str
    recipients: tuple[JournalRecipient, ...] = field(default_factory=tuple)
    on_behalf_of: str = ""

    @property
    def envelope_to(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for recipient in self.recipients:
            seen.setdefault(recipient.address.lower(), None)
        return tuple(seen)

    def as_detail(self) -> dict[str, object]:
        return {
            "sender": self.sender,
            "message_id": self.message_id,
            "on_behalf_of": self.on_behalf_of,
            "recipients": [{k: v for k, v in asdict(r).items() if v} for r in self.recipients],
        }


def is_journal_report(raw: bytes) -> bool:
    end = _HEADER_END.search(raw)
    head = raw[: end.start() if end else min(len(raw), 65536)].lower()
    return b"\nx-ms-journal-report:" in b"\n" + head


def unwrap(raw: bytes) -> JournalReport | None:
    """The report's parts, or None when `raw` is not a well-formed envelope journal report."""
    if not is_journal_report(raw):
        return None
    end = _HEADER_END.search(raw)
    if end is None:
        return None
    match = _BOUNDARY.search(_unfold(raw[: end.start()]))
    if match is None:
        return None
    boundary = match.group(1) or match.group(2)
    report_text: str | None = None
    original: bytes | None = None
    for headers, body in _parts(raw[end.end() :], boundary):
        ctype = _header(headers, b"content-type").lower()
        encoding = _header(headers, b"content-transfer-encoding").strip().lower()
        if ctype.startswith(b"message/rfc822") and original is None:
            original = _decode(body, encoding)
        elif ctype.startswith(b"text/plain") and report_text is None:
            charset = re.search(rb'charset\s*=\s*"?([A-Za-z0-9_.:-]+)', ctype)
            data = _decode(body, encoding)
            report_text = data.decode(charset.group(1).decode() if charset else "utf-8", "replace")
    if original is None or report_text is None:
        return None
    return _read_fields(report_text, original)


def _read_fields(text: str, original: bytes) -> JournalReport | None:
    sender = message_id = on_behalf_of = ""
    recipients: list[JournalRecipient] = []
    for line in text.splitlines():
        match = _FIELD.match(line.strip())
        if match is None:
            continue
        name, value = match.group(1).lower(), match.group(2).strip()
        if name == "sender":
            sender = value
        elif name == "message-id":
            message_id = value.strip("<>")
        elif name == "on-behalf-of":
            on_behalf_of = value
        elif name in _RECIPIENT_ROLES:
            address, _, redirect = value.partition(",")
            kind, _, source = redirect.partition(":")
            recipients.append(
                JournalRecipient(
                    role=name,
                    address=address.strip(),
                    expanded_from=source.strip() if kind.strip().lower() == "expanded" else "",
                    forwarded_from=source.strip() if kind.strip().lower() == "forwarded" else "",
                )
            )
    if not sender and not recipients:
        return None
    return JournalReport(original, sender, message_id, tuple(recipients), on_behalf_of)


def _parts(body: bytes, boundary: bytes) -> list[tuple[bytes, bytes]]:
    """(headers, content) of each part; RFC 2046 §5.1.1: the CRLF before a delimiter is the delimiter's."""
    delimiter = re.compile(rb"(?:\r?\n|\A)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    found: list[tuple[bytes, bytes]] = []
    matches = list(delimiter.finditer(body))
    for current, following in itertools.pairwise(matches):
        if current.group(1):  # the close delimiter
            break
        part = body[current.end() : following.start()]
        end = _HEADER_END.search(part)
        if end is None:
            found.append((part, b""))
        else:
            found.append((part[: end.start()], part[end.end() :]))
    return found


def _header(headers: bytes, name: bytes) -> bytes:
    for line in _unfold(headers).split(b"\n"):
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return b""


def _unfold(headers: bytes) -> bytes:
    return re.sub(rb"\r?\n[ \t]+", b" ", headers).replace(b"\r", b"")


def _decode(body: bytes, encoding: bytes) -> bytes:
    try:
        if encoding == b"base64":
            return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", body))
        if encoding == b"quoted-printable":
            return quopri.decodestring(body)
    except (binascii.Error, ValueError):
        return body
    return body
