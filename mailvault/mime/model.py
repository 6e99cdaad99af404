"""What parsing yields: plain, picklable records (they cross process boundaries during import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ParseStatus(StrEnum):
    OK = "ok"  # parsed cleanly
    DEFECTS = "defects"  # parsed, but the message breaks the standards (see problems)
    FAILED = "failed"  # could not be parsed; only the raw bytes are meaningful


@dataclass(frozen=True, slots=True)
class Address:
    name: str  # decoded display name, "" when absent
    addr: str  # lower-cased addr-spec; "" when the header held only a name

    @property
    def domain(self) -> str:
        return self.addr.rpartition("@")[2] if "@" in self.addr else ""


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str  # decoded; "" when the part has none
    content_type: str
    size: int  # decoded bytes
    sha256: str  # of the decoded content
    inline: bool = False  # an inline part (e.g. an image referenced from the HTML body)
    encoding: str = "mime"  # mime, uuencode, tnef (a file inside winmail.dat), rfc822


@dataclass(slots=True)
class ParsedMessage:
    status: ParseStatus = ParseStatus.OK
    problems: list[str] = field(default_factory=list)
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    subject: str = ""
    date: datetime | None = None  # UTC, naive
    from_: list[Address] = field(default_factory=list)
    sender: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    text: str = ""  # body text for reading and indexing: text/plain, or HTML turned into text
    attachments: list[Attachment] = field(default_factory=list)
    charsets: list[str] = field(default_factory=list)  # codecs that decoded the text parts

    @property
    def author(self) -> Address | None:
        for group in (self.from_, self.sender):
            for address in group:
                if address.addr:
                    return address
        return None

    def flag(self, problem: str) -> None:
        """Record a standards defect; the message is still fully usable."""
        if problem not in self.problems:
            self.problems.append(problem)
        if self.status is ParseStatus.OK:
            self.status = ParseStatus.DEFECTS
