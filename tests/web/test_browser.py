"""The web app in a real browser (Chromium through Playwright): what the TestClient tests cannot
see. A person finds a Chinese quotation and exports its conversation; a hostile HTML message
runs nothing and loads nothing from outside until remote images are asked for; the interface
follows the browser's language and the switch.

Slow (20–30 s for the module on 2 cores): Chromium and a live server start once, the test company
is built once (password hashing), and each test drives whole pages, signing in through the form.
"""

from __future__ import annotations

import json
import re
import time
import zipfile
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Dialog, Error, Frame, Page, expect

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
    assert re.fullmatch(r"mailvault-export-[0-9-]+\.zip", saved.name)
    assert verify_zip(saved) == []
    with zipfile.ZipFile(saved) as zf:
        emls = sorted(n for n in zf.namelist() if n.endswith(".eml"))
        manifest = json.loads(zf.read("manifest.json"))
    wanted = sorted(live_company.ids[name] for name in THREAD)
    assert [int(Path(n).name.split("-")[0]) for n in emls] == wanted
    assert sorted(m["archive_id"] for m in manifest["messages"]) == wanted
    assert manifest["exported_by"] == "manager"


# What a refused load or script may print; anything else in the console is a finding.
_REFUSALS = ("Content Security Policy", "Content-Security-Policy", "sandbox", "Refused", "Blocked")


def _only_refusals(console: list[ConsoleMessage]) -> list[str]:
    """Console lines other than refusals (a missing /favicon.ico is the browser's own doing)."""
    return [
        f"{m.type}: {m.text}"
        for m in console
        if not any(word in m.text for word in _REFUSALS) and not m.location["url"].endswith("/favicon.ico")
    ]


def test_hostile_html_runs_nothing_and_loads_nothing(
    page: Page, live_company: Company, remote: RemoteRecorder
) -> None:
    console: list[ConsoleMessage] = []
    dialogs: list[Dialog] = []
    errors: list[Error] = []
    page.on("console", lambda message: console.append(message))
    page.on("dialog", lambda dialog: dialogs.append(dialog))
    page.on("pageerror", lambda error: errors.append(error))
    sign_in(page, "admin")
    remote.clear()
    hostile = live_company.ids["hostile"]

    page.goto(f"/messages/{hostile}")
    frame = _message_frame(page)
    page.wait_for_load_state("networkidle")
    time.sleep(1.5)  # what the message could still trigger (onload, timers, a refresh) shows by now
    assert remote.paths == []  # no script, style sheet, image, form, frame or object load
    assert page.url.endswith(f"/messages/{hostile}")  # the meta refresh did not navigate
    _assert_nothing_ran(page, frame, console, dialogs, errors)
    expect(frame.locator("body")).to_contain_text("付款通知 payment notice")
    srcdoc = page.locator("iframe.mailframe").get_attribute("srcdoc") or ""
    assert re.findall(r"position|<script|url\(|onload|onerror|javascript:", srcdoc) == []
    # The inline (cid:) image is embedded and shown; the remote one is left out.
    assert "data:image/png;base64," in srcdoc
    shown = frame.locator("img[src^='data:image/png']")
    expect(shown).to_have_count(1)
    assert shown.evaluate("img => img.complete && img.naturalWidth") > 0
    # The overlay paragraph is a plain paragraph in the flow of the message, covering nothing.
    overlay = frame.get_by_text("Overlay")
    assert overlay.evaluate("p => getComputedStyle(p).position") == "static"
    box = overlay.bounding_box()
    assert box is not None
    assert box["height"] < 100
    expect(page.locator("article.message h1")).to_be_visible()

    notice = page.locator("p.notice")
    expect(notice).to_contain_text("1 remote images were blocked")
    notice.get_by_role("link").click()
    page.wait_for_url(f"**/messages/{hostile}?remote=1")
    frame = _message_frame(page)
    remote_image = frame.locator("img[src$='/remote.png']")
    expect(remote_image).to_have_count(1)
    page.wait_for_load_state("networkidle")
    time.sleep(0.5)
    assert remote_image.evaluate("img => img.complete && img.naturalWidth") > 0
    assert remote.paths == ["/remote.png"]  # remote images when asked, and still nothing else
    _assert_nothing_ran(page, frame, console, dialogs, errors)


def _assert_nothing_ran(
    page: Page, frame: Frame, console: list[ConsoleMessage], dialogs: list[Dialog], errors: list[Error]
) -> None:
    """The message's scripts and handlers would have set the title 'pwned' or opened a dialog."""
    assert "pwned" not in (page.title(), frame.title())
    assert (dialogs, errors) == ([], [])
    assert _only_refusals(console) == []


def _message_frame(page: Page) -> Frame:
    """The sandboxed frame the message's HTML is shown in (Playwright reads it from outside:
    its utility script runs even where the sandbox forbids the page's own)."""
    element = page.locator("iframe.mailframe")
    expect(element).to_be_visible()
    assert element.get_attribute("sandbox") == "allow-popups allow-popups-to-escape-sandbox"
    frame = element.element_handle().content_frame()
    assert frame is not None
    frame.wait_for_load_state()
    return frame


def test_language_follows_the_browser_and_the_switch(chromium: Browser, live: LiveServer) -> None:
    context = new_context(chromium, live.url, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto("/login")
        expect(page.locator("html")).to_have_attribute("lang", "zh")
        expect(page.locator("h1")).to_have_text("登录邮件归档系统")
        sign_in(page, "employee")
        expect(page.get_by_role("button", name="搜索")).to_be_visible()
        expect(page.locator("header nav")).to_contain_text("搜索")

        page.locator("header").get_by_role("button", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        assert page.url.endswith("/search")
        expect(page.get_by_role("button", name="Search", exact=True)).to_be_visible()
        expect(page.locator("header nav")).to_contain_text("Search")
        expect(page.locator("header").get_by_role("button", name="中文")).to_be_visible()
    finally:
        context.close()

    # The choice belongs to the account: a new browser, still Chinese, gets English after signing in.
    context = new_context(chromium, live.url, locale="zh-CN")
    try:
        page = context.new_page()
        sign_in(page, "employee")
        expect(page.locator("html")).to_have_attribute("lang", "en")
    finally:
        context.close()
