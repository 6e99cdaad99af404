"""`mailvault serve` runs the indexer: mail that arrives over SMTP is searchable within seconds."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import SearchIndexError
from mailvault.index import manage
from mailvault.index.search import search
from tests.gateway.conftest import gateway_settings, running
from tests.mailfactory import make_message


async def test_mail_received_by_serve_is_searchable_within_seconds(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    raw = make_message(subject="样品确认 sample approval", body="欧阳娜娜 confirmed the golden sample.\n")

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", settings.smtp.listeners[0].port, timeout=30) as client:
            assert client.sendmail("a@kunde.de", ["b@huaqiang-elec.com.cn"], raw) == {}

    async with running(settings, with_indexer=True):
        await asyncio.to_thread(send)
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            total = await asyncio.to_thread(_count, settings, "欧阳娜娜 样品")
            if total == 1:
                break
            assert asyncio.get_running_loop().time() < deadline, "not searchable within 15 s"
            await asyncio.sleep(0.2)


def _count(settings: Settings, query: str) -> int:
    try:
        engine = manage.open_for_search(settings)
    except SearchIndexError:
        return 0  # not built yet
    try:
        with Archive(settings) as archive:
            return search(archive, engine, query).total
    finally:
        engine.close()
