"""The handover and risk-signal pages in a real browser (Chromium through Playwright), in Chinese: an
admin starts a handover through the form, gives a customer to a successor, downloads the evidence
package (which then checks out); and follows a risk signal to its message, then dismisses it.

The company is this module's own (the tests change it): a successor account and Zhang's forward to
his 163.com address, scanned into a risk signal, are added before the server starts.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from mailvault.access import users
from mailvault.access.models import UserRole
from mailvault.archive.store import Archive
from mailvault.evidence.checker import check
from tests.web.browser import LiveServer, RemoteRecorder, isolated_from_machine_config, new_context, sign_in
from tests.web.conftest import COMPANY, FORWARD_SUBJECT, PASSWORD, Company, add_risk_signal, build_company

pytest_plugins = ["tests.web.browser"]

ZHANG = f"zhang.wei@{COMPANY}"
SUCCESSOR = "successor"
SUCCESSOR_EMAIL = f"new.sales@{COMPANY}"
KUNDE = ("quote", "reply", "hans_followup")  # Zhang's mail with kunde.de
REASON = "他自己的测试邮箱"  # why the admin dismisses the signal


@pytest.fixture(scope="module")
def live_company(tmp_path_factory: pytest.TempPathFactory, remote: RemoteRecorder) -> Company:
    """The test company on SQLite, with a successor account and one risk signal (the forward's
    archive id is ids["forward"]); overrides tests.web.browser's shared one."""
    folder = tmp_path_factory.mktemp("browser-handover")
    with isolated_from_machine_config():
        company = build_company(folder, f"sqlite:///{folder / 'mailvault.sqlite3'}", remote.port)
        with Archive(company.settings) as archive:
            users.add_user(
                archive.db,
                SUCCESSOR,
                PASSWORD,
                UserRole.EMPLOYEE,
                email=SUCCESSOR_EMAIL,
                display_name="新销售",
            )
        company.ids["forward"] = add_risk_signal(company)
    return company


@pytest.fixture
def zh(chromium: Browser, live: LiveServer) -> Iterator[BrowserContext]:
    """A fresh profile whose browser asks for Chinese."""
    context = new_context(chromium, live.url, locale="zh-CN")
    try:
        yield context
    finally:
        context.close()


def _admin_in_chinese(context: BrowserContext) -> Page:
    page = context.new_page()
    sign_in(page, "admin")
    expect(page.locator("html")).to_have_attribute("lang", "zh")
    return page


@pytest.fixture
def successor_page(chromium: Browser, live: LiveServer) -> Iterator[Page]:
    """The successor, signed in in a browser of their own."""
    context = new_context(chromium, live.url, locale="zh-CN")
    try:
        page = context.new_page()
        sign_in(page, SUCCESSOR)
        yield page
    finally:
        context.close()


def test_handover_gives_a_customer_to_the_successor_and_downloads_evidence(
    zh: BrowserContext, successor_page: Page, live_company: Company, tmp_path: Path
) -> None:
    quote = f"/messages/{live_company.ids['quote']}"
    answer = successor_page.goto(quote)
    assert answer is not None
    assert answer.status == 404, "the successor does not read Zhang's customer before the handover"

    page = _admin_in_chinese(zh)
    page.locator("header nav").get_by_role("link", name="离职交接").click()
    page.wait_for_url("**/handover")
    expect(page.locator("h1")).to_have_text("离职交接")
    page.get_by_label("员工").fill(ZHANG)
    page.get_by_role("button", name="开始交接").click()
    page.wait_for_url(re.compile(r"/handover/zhang\.wei(@|%40)huaqiang-elec\.com\.cn$"))
    expect(page.locator("h1")).to_have_text(f"离职交接: {ZHANG}")

    form = page.locator("form#successor-form")
    customers = form.locator("table tbody tr")
    kunde = customers.filter(has=page.get_by_role("link", name="kunde.de", exact=True))
    expect(kunde).to_have_count(1)
    expect(kunde).to_contain_text("hans@kunde.de")
    expect(customers.filter(has_text="szhq.cn")).to_have_count(0)  # Li Na's customer, not Zhang's

    box = kunde.get_by_role("checkbox", name="kunde.de")
    box.check()
    expect(box).to_be_checked()
    form.get_by_label("接任者").select_option(SUCCESSOR)
    form.get_by_role("button", name="将勾选的客户交给接任者").click()
    expect(page.get_by_role("status")).to_have_text(f"{SUCCESSOR} 现在可以阅读 1 个客户的邮件。")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator("section.panel")).to_contain_text(f"{SUCCESSOR}，由 admin 于")

    # The grant took effect: the successor, signed in elsewhere, now reads the customer's quotation.
    answer = successor_page.goto(quote)
    assert answer is not None
    assert answer.status == 200
    expect(successor_page.locator("article.message h1")).to_have_text("Quotation PI-2024-031 报价单")

    # Only kunde.de in the package (every customer is chosen to begin with).
    page.locator("form[action$='/evidence']").get_by_label("客户").select_option(["kunde.de"])
    with page.expect_download() as started:
        page.get_by_role("button", name="下载证据包").click()
    download = started.value
    assert download.failure() is None
    assert re.fullmatch(
        r"evidence-zhang\.wei@huaqiang-elec\.com\.cn-[0-9]{8}-[0-9]{6}\.zip", download.suggested_filename
    )
    package = tmp_path / "evidence.zip"
    download.save_as(package)
    outcome = check(str(package))
    assert outcome.ok, outcome.lines()
    with zipfile.ZipFile(package) as zf:
        names = zf.namelist()
        pdf = zf.read("report.pdf")
    emls = [name for name in names if name.endswith(".eml")]
    # messages/NNN-<archive id>.eml: exactly Zhang's mail with kunde.de
    assert sorted(int(Path(name).stem.split("-")[1]) for name in emls) == sorted(
        live_company.ids[name] for name in KUNDE
    )
    assert outcome.messages == len(KUNDE)
    assert pdf.startswith(b"%PDF-")


def test_risk_signal_links_to_its_message_and_is_dismissed(zh: BrowserContext, live_company: Company) -> None:
    forward = live_company.ids["forward"]
    page = _admin_in_chinese(zh)
    page.locator("header nav").get_by_role("link", name="风险信号").click()
    page.wait_for_url("**/alerts")
    expect(page.locator("h1")).to_have_text("风险信号")
    rows = page.locator("table.alerts tbody tr")
    expect(rows).to_have_count(1)
    signal = rows.first
    expect(signal).to_contain_text(ZHANG)
    expect(signal).to_contain_text("公司邮件发往私人邮箱")

    signal.get_by_role("link", name=f"#{forward}", exact=True).click()
    page.wait_for_url(f"**/messages/{forward}")
    expect(page.locator("article.message h1")).to_have_text(FORWARD_SUBJECT)
    page.go_back()
    page.wait_for_url("**/alerts")
    expect(rows).to_have_count(1)

    signal.get_by_role("textbox", name="理由").fill(REASON)
    signal.get_by_role("button", name="忽略").click()
    page.wait_for_url(re.compile(r"/alerts\?done="))
    expect(page.get_by_role("status")).to_have_text("已忽略。")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_text("没有风险信号。")
    expect(page.locator(f"a[href='/messages/{forward}']")).to_have_count(0)

    page.get_by_label("包括已忽略的").check()
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url(re.compile(r"/alerts\?.*dismissed=1"))
    dismissed = page.locator("table.alerts tbody tr.dismissed")
    expect(dismissed).to_have_count(1)
    expect(dismissed).to_contain_text(ZHANG)
    expect(dismissed).to_contain_text(f"已由 admin 忽略：{REASON}")
    expect(dismissed.get_by_role("link", name=f"#{forward}", exact=True)).to_be_visible()
    expect(dismissed.get_by_role("button", name="忽略")).to_have_count(0)
