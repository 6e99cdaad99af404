"""Interface language (Chinese or English) and dates in the configured time zone.

Texts are written in English in the templates and code; locales/zh.json maps each to Chinese.
A test checks that every text the templates use has its translation.
"""

from __future__ import annotations

import datetime as dt
import json
from datetime import UTC
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

LANGUAGES = ("zh", "en")
# Words the templates translate from data (roles, directions, audit actions …), not literals.
DATA_TEXTS = (
    *("admin", "auditor", "manager", "employee"),
    *("inbound", "outbound", "internal", "unknown"),
    *("smtp", "imap", "file"),
    *("deleted", "moved", "renumbered"),
    *("ok", "denied", "failed"),
    "domain",
    *("To", "Cc", "Bcc"),
    "(no date)",
)
_LOCALES = Path(__file__).parent / "locales"


@cache
def catalog(language: str) -> dict[str, str]:
    if language == "en":
        return {}
    loaded: dict[str, str] = json.loads((_LOCALES / f"{language}.json").read_text(encoding="utf-8"))
    return loaded


def negotiate(chosen: str | None, accept_language: str, default: str) -> str:
    """The language asked for by the switch (cookie or account), else the browser's, else the default."""
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, str]] = []
    for item in accept_language.split(","):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((weight, primary))
    if ranked:
        return max(ranked, key=lambda r: r[0])[1]
    return default


class Translator:
    def __init__(self, language: str, time_zone: str) -> None:
        self.language = language
        self.zone = ZoneInfo(time_zone)
        self._texts = catalog(language)

    def __call__(self, text: str, **values: object) -> str:
        translated = self._texts.get(text, text)
        return translated.format(**values) if values else translated

    def datetime(self, when: dt.datetime | None, *, seconds: bool = False) -> str:
        """A stored (UTC, naive) time in the configured zone: 2025-03-01 14:05."""
        if when is None:
            return self("(no date)")
        local = when.replace(tzinfo=UTC).astimezone(self.zone)
        return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")

    @property
    def time_zone_name(self) -> str:
        return self.zone.key

    def date(self, when: dt.datetime | None) -> str:
        if when is None:
            return "—"
        return when.replace(tzinfo=UTC).astimezone(self.zone).strftime("%Y-%m-%d")

    def number(self, value: int) -> str:
        return f"{value:,}"

    def size(self, value: int) -> str:
        if value < 1024:
            return f"{value} B"
        scaled = float(value)
        for unit in ("KB", "MB", "GB"):
            scaled /= 1024
            if scaled < 1024 or unit == "GB":
                break
        return f"{scaled:.1f} {unit}"
