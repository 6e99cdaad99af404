"""What the detectors know of archived messages: addresses by role, subject, date, whether it is
a forward, and (read from the blob store only when a detector asks) the body text."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from mailvault.archive.blobs import BlobStore
from mailvault.archive.models import Attachment, Message, Participant, Role
from mailvault.config import Settings
from mailvault.errors import ArchiveError
from mailvault.mime import parse_message

log = logging.getLogger(__name__)

RECIPIENT_ROLES = (Role.TO.value, Role.CC.value, Role.BCC.value, Role.ENVELOPE_TO.value)
# Who took part in a message (as access.scope counts them: Reply-To alone does not count).
COUNTED_ROLES = tuple(r.value for r in Role if r is not Role.REPLY_TO)

# Forward prefixes as mail clients write them, after any Re:/回复: (English, Chinese, traditional).
_FORWARD_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|回复|答复|回覆)\s*[:：]\s*)*(?:fwd?|fw|转发|轉寄|转寄|轉發)\s*[:：]", re.IGNORECASE
)
# Where the quoted original begins in a reply or forward: text below it is someone else's.
_QUOTE_START = re.compile(
    r"^(?:-{2,}\s*(?:original message|forwarded message|原始邮件|原始郵件|转发邮件|轉寄郵件)"
    r"|_{5,}\s*$"
    r"|(?:from|发件人|寄件人|寄件者|發件人)\s*[:：]"
    r"|(?:on .{0,120} wrote:|在 ?.{0,120}写道[:：]?)\s*$)",
    re.IGNORECASE | re.MULTILINE,
)
_QUOTED_FROM = re.compile(
    r"^[>\s]*(?:from|发件人|寄件人|寄件者|發件人)\s*[:：](.*)$", re.IGNORECASE | re.MULTILINE
)
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(slots=True)
class MessageFacts:
    archive_id: int
    when: datetime  # the Date header, else when it was archived (naive UTC)
    archived_at: datetime
    subject: str
    author: str  # lower-cased From (or Sender) address, "" when none
    author_name: str
    direction: str
    sha256: str
    references: list[str]
    roles: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # role -> addresses
    names: dict[str, str] = field(default_factory=dict)  # address -> a display name it carried
    attached_message: bool = False  # a message/rfc822 part: forwarded as attachment

    @property
    def recipients(self) -> set[str]:
        return set().union(*(self.roles.get(r, set()) for r in RECIPIENT_ROLES))

    @property
    def hidden_recipients(self) -> set[str]:
        """Bcc and envelope recipients that no To or Cc header showed."""
        shown = self.roles.get(Role.TO.value, set()) | self.roles.get(Role.CC.value, set())
        hidden = self.roles.get(Role.BCC.value, set()) | self.roles.get(Role.ENVELOPE_TO.value, set())
        return hidden - shown

    @property
    def participants(self) -> set[str]:
        return set().union(*(self.roles.get(r, set()) for r in COUNTED_ROLES)) | ({self.author} - {""})

    @property
    def is_forward(self) -> bool:
        return bool(_FORWARD_SUBJECT.match(self.subject)) or self.attached_message


@dataclass
class Context:
    """What every detector is given: the settings it reads and the blob store for body text."""

    settings: Settings
    blobs: BlobStore
    _texts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.company_domains = _domains(self.settings.archive.company_domains)
        self.free_mail_domains = _domains(self.settings.signals.free_mail_domains)

    def is_company(self, address: str) -> bool:
        return _in_domains(address, self.company_domains)

    def is_free_mail(self, address: str) -> bool:
        return _in_domains(address, self.free_mail_domains)

    def is_external(self, address: str) -> bool:
        return "@" in address and not self.is_company(address)

    def company_condition(self, domain_column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
        """SQL: the domain column holds a company domain or a sub-domain of one."""
        if not self.company_domains:
            return false()
        return or_(*(or_(domain_column == d, domain_column.endswith("." + d)) for d in self.company_domains))

    def text(self, facts: MessageFacts) -> str:
        """Subject and body text as the archive parses them; "" when the blob cannot be read
        (`mailvault verify` reports that). Kept for the scan of one batch."""
        if facts.sha256 not in self._texts:
            try:
                raw = self.blobs.get(facts.sha256)
            except ArchiveError as exc:
                log.warning("signals: message %d read without its body: %s", facts.archive_id, exc)
                raw = b""
            body = parse_message(raw).text if raw else ""
            self._texts[facts.sha256] = f"{facts.subject}\n{body}"
        return self._texts[facts.sha256]

    def forget_texts(self) -> None:
        self._texts.clear()


def load_facts(session: Session, archive_ids: Sequence[int]) -> list[MessageFacts]:
    """Facts of these messages, in the order given; ids not in the archive are left out."""
    found: dict[int, MessageFacts] = {}
    for start in range(0, len(archive_ids), 500):
        chunk = list(archive_ids[start : start + 500])
        for m in session.scalars(select(Message).where(Message.archive_id.in_(chunk))):
            refs = [r for r in (m.reference_ids or "").split() if r]
            if m.in_reply_to:
                refs.append(m.in_reply_to)
            found[m.archive_id] = MessageFacts(
                archive_id=m.archive_id,
                when=m.date or m.archived_at,
                archived_at=m.archived_at,
                subject=m.subject or "",
                author=(m.sender_addr or "").lower(),
                author_name=m.sender_name or "",
                direction=m.direction,
                sha256=m.sha256,
                references=refs,
            )
        for archive_id, role, address, name in session.execute(
            select(Participant.archive_id, Participant.role, Participant.address, Participant.name).where(
                Participant.archive_id.in_(chunk), Participant.address != ""
            )
        ):
            facts = found[archive_id]
            facts.roles[role].add(address)
            if name and address not in facts.names:
                facts.names[address] = name
        for archive_id in session.scalars(
            select(Attachment.archive_id).where(
                Attachment.archive_id.in_(chunk), Attachment.content_type == "message/rfc822"
            )
        ):
            found[archive_id].attached_message = True
    return [found[i] for i in archive_ids if i in found]


def own_text(text: str) -> str:
    """The part of a message its author wrote: lines before the quoted original, none quoted."""
    if match := _QUOTE_START.search(text):
        text = text[: match.start()]
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))


def quoted_senders(text: str) -> set[str]:
    """Addresses on the From:/发件人: lines of the originals a forward or reply quotes."""
    found: set[str] = set()
    for line in _QUOTED_FROM.findall(text):
        found.update(a.lower() for a in _ADDRESS.findall(line))
    return found


def same_name(a: str, b: str) -> bool:
    """Display names that are the same person's as written: case, width, spaces and dots ignored."""
    return bool(a) and _name_key(a) == _name_key(b) and len(_name_key(a)) >= 2


def _name_key(name: str) -> str:
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def _domains(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({v.strip().lstrip("@").lower() for v in values} - {""}))


def _in_domains(address: str, domains: Sequence[str]) -> bool:
    domain = address.rpartition("@")[2].lower() if "@" in address else ""
    return bool(domain) and any(domain == d or domain.endswith("." + d) for d in domains)


def wrote_to_company(ctx: Context, session: Session, addresses: Iterable[str], before: datetime) -> set[str]:
    """Which of these addresses wrote to the company (a company address in To or Cc, not only a
    hidden copy) in mail dated before `before`: customers do."""
    wanted = sorted(set(addresses))
    if not wanted:
        return set()
    addressed = select(Participant.archive_id).where(
        Participant.role.in_((Role.TO.value, Role.CC.value)), ctx.company_condition(Participant.domain)
    )
    when = Message.date
    rows = session.scalars(
        select(Message.sender_addr)
        .where(
            Message.sender_addr.in_(wanted),
            Message.direction == "inbound",
            or_(when < before, when.is_(None) & (Message.archived_at < before)),
            Message.archive_id.in_(addressed),
        )
        .distinct()
    )
    return set(rows)
