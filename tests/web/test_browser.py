"""The web app in a real browser (Chromium through Playwright): what the TestClient tests cannot
see. A person finds a Chinese quotation and exports its conversation; a hostile HTML message
runs nothing and loads nothing from outside until remote images are asked for; the interface
follows the browser's language and the switch.

Slow (a browser and a live server, about 10 s for the module): each test drives whole pages.
"""

from __future__ import annotations

import json
import re
import time
import zipfile
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Dialog, Error, Page, expect

from mailvault.archive.bundle import verify_zip
from tests.web.browser import LiveServer, RemoteRecorder, new_context, sign_in
from tests.web.conftest import Company

pytest_plugins = ["tests.web.browser"]

QUOTE_SUBJECT = "Quotation PI-2024-031 报价单"
THREAD = ("quote", "reply", "hans_followup")


def test_find_open_and_export_a_chinese_quotation(page: Page, live_company: Company, tmp_path: Path) -> None:
    sign_in(page, "manager")
    page.get_by_role("searchbox").fill("报价单")
    page.get_by_role("searchbox").press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=%E6%8A%A5%E4%BB%B7%E5%8D%95"))
    results = page.locator("ol.results > li")
    expect(results).to_have_count(3)
    expect(page.locator("ol.results mark").first).to_have_text("报价单")
    expect(page.locator("p.count")).to_contain_text("3 messages found")

    page.locator("ol.results a.subject", has_text=re.compile(f"^{QUOTE_SUBJECT}$")).click()
    page.wait_for_url(f"**/messages/{live_company.ids['quote']}")
    expect(page.locator("article.message h1")).to_have_text(QUOTE_SUBJECT)
    expect(page.locator("section.attachments")).to_contain_text("报价单 PI-2024-031.pdf")

    page.get_by_role("link", name="Whole conversation").click()
    page.wait_for_url(f"**/messages/{live_company.ids['quote']}/thread")
    conversation = page.locator("ol.conversation > li")
    expect(conversation).to_have_count(3)
    expect(conversation.first).to_contain_text(QUOTE_SUBJECT)
    expect(page.locator("ol.conversation > li.anchor")).to_have_count(1)

    with page.expect_download() as started:
        page.locator("section.thread p.actions").get_by_role("link", name="zip of .eml").click()
    download = started.value
    assert download.failure() is None
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.name.startswith("mailvault-export-") and saved.suffix == ".zip"
    assert verify_zip(saved) == []
    with zipfile.ZipFile(saved) as zf:
        emls = sorted(n for n in zf.namelist() if n.endswith(".eml"))
        manifest = json.loads(zf.read("manifest.json"))
    wanted = sorted(live_company.ids[name] for name in THREAD)
    assert [int(Path(n).name.split("-")[0]) for n in emls] == wanted
    assert sorted(m["archive_id"] for m in manifest["messages"]) == wanted
    assert manifest["exported_by"] == "manager"


def test_hostile_html_runs_nothing_and_loads_nothing(
    page: Page, live_company: Company, remote: RemoteRecorder
) -> None:
    console: list[ConsoleMessage] = []
    dialogs: list[Dialog] = []
    errors: list[Error] = []
    page.on("console", console.append)
    page.on("dialog", lambda dialog: (dialogs.append(dialog), dialog.dismiss()))
    page.on("pageerror", errors.append)
    sign_in(page, "admin")
    remote.clear()
    hostile = live_company.ids["hostile"]

    page.goto(f"/messages/{hostile}")
    frame_element = page.locator("iframe.mailframe")
    expect(frame_element).to_be_visible()
    page.wait_for_load_state("networkidle")
    time.sleep(1.5)  # anything the message could still trigger (timers, refresh) would show by now
    assert remote.paths == []
    assert page.title() != "pwned"
    frame = frame_element.content_frame
    expect(frame.locator("body")).to_contain_text("付款通知 payment notice")
    assert page.title() != "pwned"
    srcdoc = frame_element.get_attribute("srcdoc") or ""
    assert "data:image/png;base64," in srcdoc
    assert "position" not in srcdoc and "script" not in srcdoc.lower()
    print(console, dialogs, errors)
