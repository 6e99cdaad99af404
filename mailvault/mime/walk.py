"""Walks a parsed MIME tree: collects body text and attachments, recognises uuencode and TNEF."""

from __future__ import annotations

import binascii
import email.message
import hashlib
import logging
import re

from mailvault.mime.charset import decode_bytes
from mailvault.mime.headers import decode_header
from mailvault.mime.html import html_to_text
from mailvault.mime.model import Attachment, ParsedMessage

log = logging.getLogger(__name__)

MAX_DEPTH = 20  # nested message/rfc822 and multipart levels; deeper is an attack, not mail
_UU_BEGIN = re.compile(rb"^begin [0-7]{3,4} ([^\r\n]+)\r?$", re.MULTILINE)
_UU_END = re.compile(rb"^end\r?$", re.MULTILINE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_BODY_TEXT_TYPES = {"text/plain", "text/html", "text/enriched", "text/richtext"}
_TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}


class Walker:
    """Fills a ParsedMessage's text and attachments from a `compat32` message tree."""

    def __init__(self, result: ParsedMessage, *, for_display: bool = False) -> None:
        self.result = result
        self.texts: list[str] = []
        # For showing a message (not for archiving): HTML bodies, each attachment's bytes in the
        # order of result.attachments, and which attachment a Content-ID names.
        self.for_display = for_display
        self.html: list[str] = []
        self.contents: list[bytes] = []
        self.content_ids: dict[str, int] = {}

    def walk(self, part: email.message.Message, depth: int = 0, text_wanted: bool = True) -> None:
        for defect in part.defects:
            self.result.flag(_describe_defect(defect))
        if depth > MAX_DEPTH:
            self.result.flag(f"MIME nesting deeper than {MAX_DEPTH} levels; the rest is not read")
            return
        ctype = part.get_content_type()
        if part.is_multipart():
            children = [p for p in part.get_payload() if isinstance(p, email.message.Message)]
            if ctype == "message/rfc822":
                for child in children:
                    self._nested_message(child, depth, text_wanted)
            elif ctype == "multipart/alternative":
                chosen = _preferred_alternative(children)
                for child in children:
                    self.walk(child, depth + 1, text_wanted and child is chosen)
            else:
                for child in children:
                    self.walk(child, depth + 1, text_wanted)
            return
        if _is_body_text(part, ctype):
            if text_wanted:
                self._body_text(part, ctype)
            elif self.for_display and ctype == "text/html":  # the HTML beside a plain-text body
                data = _payload_bytes(part, self.result)
                self.html.append(decode_bytes(data, _declared_charset(part, ctype, data)).text)
            return
        self._attachment(part, ctype)

    @property
    def text(self) -> str:
        return "\n\n".join(t for t in self.texts if t)

    def _body_text(self, part: email.message.Message, ctype: str) -> None:
        data = _payload_bytes(part, self.result)
        if ctype == "text/plain":
            data = self._extract_uuencoded(data)
        declared = _declared_charset(part, ctype, data)
        decoded = decode_bytes(data, declared)
        if decoded.repaired:
            declared = declared or "none"
            self.result.flag(f"charset repaired: declared {declared}, decoded as {decoded.charset}")
        if decoded.charset not in self.result.charsets:
            self.result.charsets.append(decoded.charset)
        if ctype == "text/html" and self.for_display:
            self.html.append(decoded.text)
        text = html_to_text(decoded.text) if ctype == "text/html" else decoded.text
        self.texts.append(text.replace("\r\n", "\n").strip())

    def _add(self, attachment: Attachment, data: bytes) -> None:
        self.result.attachments.append(attachment)
        if self.for_display:
            self.contents.append(data)

    def _attachment(self, part: email.message.Message, ctype: str) -> None:
        data = _payload_bytes(part, self.result)
        filename = attachment_filename(part)
        inline = (
            part.get_content_disposition() == "inline" or bool(part.get("Content-ID"))
        ) and part.get_content_disposition() != "attachment"
        content_id = str(part.get("Content-ID", "")).strip().strip("<>")
        if self.for_display and content_id:
            self.content_ids.setdefault(content_id, len(self.result.attachments))
        self._add(
            Attachment(
                filename=filename,
                content_type=ctype,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                inline=inline and ctype.startswith("image/"),
            ),
            data,
        )
        if ctype in _TNEF_TYPES or filename.lower() == "winmail.dat":
            self._tnef_contents(data)

    def _nested_message(self, child: email.message.Message, depth: int, text_wanted: bool) -> None:
        subject = decode_header(child.get("Subject", "") or "")
        try:
            raw = child.as_bytes()
        except (ValueError, LookupError, UnicodeError, TypeError):
            raw = b""  # the size of a broken nested message is only an estimate anyway
        self._add(
            Attachment(
                filename=(subject or "message") + ".eml",
                content_type="message/rfc822",
                size=len(raw),
                sha256=hashlib.sha256(raw).hexdigest(),
                encoding="rfc822",
            ),
            raw,
        )
        if text_wanted:
            heading = [
                f"{label}: {decode_header(str(child.get(name, '')))}"
                for name, label in (("From", "From"), ("Date", "Date"), ("Subject", "Subject"))
                if child.get(name)
            ]
            self.texts.append("\n".join(heading))
        self.walk(child, depth + 1, text_wanted)

    def _extract_uuencoded(self, data: bytes) -> bytes:
        """Record uuencoded files inside a plain-text body and drop their lines from the text."""
        while (begin := _UU_BEGIN.search(data)) is not None:
            end = _UU_END.search(data, begin.end())
            stop = end.end() if end else len(data)
            decoded = bytearray()
            for line in data[begin.end() : end.start() if end else len(data)].splitlines():
                if not line.strip():
                    continue
                try:
                    decoded += binascii.a2b_uu(line)
                except binascii.Error:
                    # Many encoders pad lines wrongly; the length byte says how much is real.
                    nbytes = (((line[0] - 32) & 63) * 4 + 5) // 3
                    try:
                        decoded += binascii.a2b_uu(line[:nbytes])
                    except binascii.Error:
                        self.result.flag("damaged uuencoded line")
            if end is None:
                self.result.flag("uuencoded file without an end line")
            name = decode_bytes(begin.group(1).strip()).text
            self._add(
                Attachment(
                    filename=name,
                    content_type="application/octet-stream",
                    size=len(decoded),
                    sha256=hashlib.sha256(bytes(decoded)).hexdigest(),
                    encoding="uuencode",
                ),
                bytes(decoded),
            )
            data = data[: begin.start()] + data[stop:]
        return data

    def _tnef_contents(self, data: bytes) -> None:
        """List the files inside an Outlook winmail.dat (TNEF) so they can be found by name."""
        try:
            import tnefparse

            tnef = tnefparse.TNEF(data)
            inner = list(tnef.attachments)
        except Exception:  # tnefparse raises many types on damaged input
            self.result.flag("winmail.dat (TNEF) could not be read; kept as one attachment")
            return
        for item in inner:
            name = item.long_filename() if hasattr(item, "long_filename") else item.name
            if isinstance(name, bytes):
                name = decode_bytes(name).text
            content = item.data if isinstance(item.data, bytes) else b""
            self._add(
                Attachment(
                    filename=str(name or ""),
                    content_type="application/octet-stream",
                    size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(),
                    encoding="tnef",
                ),
                content,
            )


def attachment_filename(part: email.message.Message) -> str:
    """The part's file name in any encoding: RFC 2231, RFC 2047 inside quotes, or raw 8-bit."""
    for param, header in (("filename", "content-disposition"), ("name", "content-type")):
        raw = _raw_param(part, header, param)
        if raw is not None:  # 8-bit bytes, which the stdlib would turn into U+FFFD
            return decode_header(raw).strip()
        value = part.get_param(param, header=header)
        if value is None or value == "":
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded latin-1 text)
            charset, _language, text = value
            return decode_bytes(str(text).encode("latin-1", "replace"), charset or None).text.strip()
        return decode_header(str(value)).strip()
    return ""


def _raw_param(part: email.message.Message, header: str, param: str) -> str | None:
    """A parameter of a header that holds raw 8-bit bytes, still surrogate-escaped; else None."""
    for name, value in part.raw_items():
        if name.lower() == header and not str(value).isascii():
            match = re.search(rf'(?:^|;)\s*{param}\s*=\s*(?:"([^"]*)"|([^;\s]+))', str(value), re.IGNORECASE)
            if match:
                return match.group(1) if match.group(1) is not None else match.group(2)
    return None


def _declared_charset(part: email.message.Message, ctype: str, data: bytes) -> str | None:
    declared = part.get_content_charset()
    if ctype == "text/html" and declared in (None, "us-ascii", "ascii"):
        # The HTML's own <meta charset> is the better label when MIME gives none.
        meta = _META_CHARSET.search(data[:4096])
        if meta:
            return meta.group(1).decode("ascii")
    return declared


def _is_body_text(part: email.message.Message, ctype: str) -> bool:
    if ctype not in _BODY_TEXT_TYPES:
        return False
    if part.get_content_disposition() == "attachment":
        return False
    return not attachment_filename(part)


def _preferred_alternative(children: list[email.message.Message]) -> email.message.Message | None:
    """RFC 2046 §5.1.4: parts go from plainest to richest; plain text reads best when present."""
    for child in children:
        if child.get_content_type() == "text/plain":
            return child
    return children[-1] if children else None


def _payload_bytes(part: email.message.Message, result: ParsedMessage) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, binascii.Error, LookupError) as exc:
        result.flag(f"undecodable {part.get('Content-Transfer-Encoding', 'body')}: {exc}")
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""


def _describe_defect(defect: object) -> str:
    name = type(defect).__name__.removesuffix("Defect")
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    return words or "MIME defect"
