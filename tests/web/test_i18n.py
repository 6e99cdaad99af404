"""The interface speaks Chinese and English: every text the pages show has its translation,
the browser's language is followed, and the switch overrides it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from mailvault.access.audit import Action
from mailvault.web import i18n
from mailvault.web.i18n import Translator, negotiate
from tests.web.conftest import Company, sign_in

WEB = Path(i18n.__file__).parent
_LITERAL = re.compile(r"""\bt\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def texts_used() -> set[str]:
    found: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        for match in _LITERAL.finditer(path.read_text(encoding="utf-8")):
            text = match.group(1) if match.group(1) is not None else match.group(2)
            found.add(text.replace('\\"', '"').replace("\\'", "'"))
    return found | set(i18n.DATA_TEXTS) | {a.value for a in Action}


def test_every_text_has_a_chinese_translation() -> None:
    catalog = json.loads((WEB / "locales" / "zh.json").read_text(encoding="utf-8"))
    used = texts_used()
    assert len(used) > 100  # the extraction finds the texts (it would pass vacuously otherwise)
    missing = sorted(used - catalog.keys())
    assert missing == [], f"add to locales/zh.json: {missing}"
    unused = sorted(catalog.keys() - used)
    assert unused == [], f"no longer used, remove from locales/zh.json: {unused}"
    for english, chinese in catalog.items():
        placeholders = set(re.findall(r"\{(\w+)\}", english))
        assert set(re.findall(r"\{(\w+)\}", chinese)) == placeholders, english


def test_language_negotiation() -> None:
    assert negotiate(None, "zh-CN,zh;q=0.9,en;q=0.8", "en") == "zh"
    assert negotiate(None, "en-US,en;q=0.9,zh;q=0.5", "zh") == "en"
    assert negotiate(None, "de-DE,fr;q=0.9", "zh") == "zh"
    assert negotiate("en", "zh-CN", "zh") == "en"


def test_dates_in_the_configured_zone() -> None:
    from datetime import datetime

    stored = datetime(2025, 3, 4, 20, 30)  # UTC
    assert Translator("en", "Asia/Shanghai").datetime(stored) == "2025-03-05 04:30"
    assert Translator("en", "Europe/Berlin").datetime(stored) == "2025-03-04 21:30"


def test_pages_follow_the_browser_and_the_switch(company: Company, client: TestClient) -> None:
    client.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
    assert "登录" in client.get("/login").text
    csrf = sign_in(client, "manager")
    page = client.get("/search", params={"q": "报价单"})
    assert "搜索" in page.text
    assert "找到 3 封邮件" in page.text
    switched = client.post("/language", data={"language": "en", "csrf": csrf, "next": "/search?q=x"})
    assert switched.status_code == 200
    assert ">Search<" in switched.text
    assert client.get("/api/me").json()["language"] == "en"  # remembered for the account
