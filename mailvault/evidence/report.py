"""The report of an evidence package: what the caller says (title, summary, sections), the list of
messages the builder adds, and its rendering as a self-contained HTML page in Chinese or English."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2

from mailvault.errors import MailvaultError
from mailvault.evidence.labels import LANGUAGES, Language, labels

_TEMPLATES = Path(__file__).parent / "templates"
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Section:
    """A table of the report. Cells are text, already formatted by the caller."""

    heading: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    note: str = ""
    widths: Sequence[float] = ()  # relative column widths for the PDF; () sizes them by content

    def __post_init__(self) -> None:
        for number, row in enumerate(self.rows, 1):
            if len(row) != len(self.columns):
                raise MailvaultError(
                    f"report section {self.heading!r}: row {number} has {len(row)} cells "
                    f"for {len(self.columns)} columns"
                )


@dataclass(frozen=True, slots=True)
class Report:
    """What the report says. The builder appends the messages section and the integrity summary."""

    title: str
    employee: str | None
    generated_by: str
    generated_at: datetime  # UTC; naive means UTC
    language: Language = "zh"
    summary: Sequence[tuple[str, str]] = ()
    sections: Sequence[Section] = ()
    time_zone: str = "UTC"  # IANA zone the dates are shown in, e.g. Asia/Shanghai
    verify_command: str = field(default="python3 verify_evidence.py PACKAGE.zip --head SEQ:HASH")

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise MailvaultError(f"report language {self.language!r} is not one of {', '.join(LANGUAGES)}")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise MailvaultError(
                f"unknown time zone {self.time_zone!r}; use an IANA name like Asia/Shanghai"
            ) from None

    @property
    def labels(self) -> dict[str, str]:
        return labels(self.language)

    def when(self, moment: datetime | None, *, seconds: bool = False) -> str:
        """A UTC time in the report's zone, with its offset: 2025-03-04 13:06 +08:00."""
        if moment is None:
            return self.labels["no_date"]
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        local = aware.astimezone(ZoneInfo(self.time_zone))
        offset = local.strftime("%z")
        return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + (
            f" {offset[:3]}:{offset[3:]}" if offset else ""
        )


@dataclass(frozen=True, slots=True)
class MessageLine:
    """One message as the report lists it."""

    date: datetime | None
    sender: str
    recipients: str
    subject: str
    size: int
    sha256: str
    seq: int


def messages_section(report: Report, lines: Sequence[MessageLine]) -> Section:
    words = report.labels
    return Section(
        heading=words["messages"],
        columns=[words[k] for k in ("date", "from", "to", "subject", "size", "sha256", "seq")],
        rows=[
            [
                report.when(line.date),
                line.sender,
                line.recipients,
                line.subject or words["no_subject"],
                f"{line.size:,}",
                line.sha256,
                f"#{line.seq}",
            ]
            for line in lines
        ],
        widths=(11, 15, 15, 26, 6, 19, 5),
    )


def completed(report: Report, lines: Sequence[MessageLine], head: tuple[int, str]) -> Report:
    """The report as packaged: the caller's summary and sections, then the package's own facts."""
    words = report.labels
    facts = [
        (words["message_count"], f"{len(lines):,}"),
        (words["total_bytes"], f"{sum(line.size for line in lines):,}"),
        (words["ledger_head"], f"#{head[0]} {head[1]}"),
    ]
    return replace(
        report,
        summary=[*report.summary, *facts],
        sections=[*report.sections, messages_section(report, lines)],
    )


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,  # subjects and names are whatever senders wrote: <script> included
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.tests["sha256"] = lambda value: isinstance(value, str) and _HASH.fullmatch(value) is not None
    return env


def render_html(report: Report) -> str:
    """The report as one HTML page: inline CSS, no scripts, nothing fetched from elsewhere."""
    template = _environment().get_template("report.html")
    return template.render(report=report, t=report.labels, generated_at=report.when(report.generated_at))
