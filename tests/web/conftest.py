"""A small company archive with one user of each role, and a client for the web app.

Company huaqiang-elec.com.cn; employees zhang.wei (sales), li.na (sales), wang.fang (finance).
Customers: kunde.de (Hans Müller), 深圳华强电子 at szhq.cn. The manager is granted li.na and the
domain kunde.de; the employee is zhang.wei. Messages are chosen so that each role sees a
different, known set (EXPECTED below).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mailvault.access import users
from mailvault.access.models import GrantKind, UserRole
from mailvault.archive.arrival import Arrival, SourceInfo
from mailvault.archive.models import SourceKind
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.index import manage
from mailvault.signals.scan import scan
from mailvault.web.app import create_app
from tests.conftest import make_settings
from tests.mailfactory import make_message

PASSWORD = "correct horse battery"  # noqa: S105 (a test user's password)
COMPANY = "huaqiang-elec.com.cn"
HOSTILE_HTML = """<html><head><style>body{background:url(http://127.0.0.1:{port}/css-bg)}</style>
<script>document.title='pwned';fetch('http://127.0.0.1:{port}/script')</script></head>
<body onload="document.title='pwned'">
<p style="position:fixed;top:0;left:0;width:100%;height:100%;background:red">Overlay</p>
<p>付款通知 payment notice</p>
<img src="http://127.0.0.1:{port}/remote.png" onerror="document.title='pwned'">
<img src="cid:logo@hq">
<a href="javascript:document.title='pwned'">click</a>
<form action="http://127.0.0.1:{port}/form"><input name="q" value="x"><button>send</button></form>
<iframe src="http://127.0.0.1:{port}/frame"></iframe>
<object data="http://127.0.0.1:{port}/object"></object>
<svg onload="document.title='pwned'"><image href="http://127.0.0.1:{port}/svg"/></svg>
<link rel="stylesheet" href="http://127.0.0.1:{port}/style.css">
<meta http-equiv="refresh" content="0;url=http://127.0.0.1:{port}/refresh">
</body></html>"""
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5e1d7d40000000049454e44ae426082"
)


@dataclass
class Company:
    settings: Settings
    ids: dict[str, int]  # name of a fixture message -> archive id
    remote_port: int

    def client(self) -> TestClient:
        return TestClient(create_app(self.settings), base_url="http://testserver")


# Which fixture messages each role's user may read.
EXPECTED = {
    "admin": {"quote", "reply", "hans_followup", "szhq", "internal", "finance", "hostile"},
    "auditor": {"quote", "reply", "hans_followup", "szhq", "internal", "finance", "hostile"},
    # li.na's mail (szhq, internal) and everything with kunde.de (quote, reply, hans_followup)
    "manager": {"quote", "reply", "hans_followup", "szhq", "internal"},
    # zhang.wei: his own sent/received mail, and his mailbox (hostile was imported from it)
    "employee": {"quote", "reply", "hans_followup", "internal", "hostile"},
}


def _ingest(archive: Archive, raw: bytes, *, owner: str | None = None, locator: str) -> int:
    kind = SourceKind.IMAP if owner else SourceKind.SMTP
    source = SourceInfo(
        kind=kind,
        origin=f"{owner}@imap.example" if owner else "127.0.0.1",
        folder="INBOX" if owner else "",
        owner=owner,
        uidvalidity=1 if owner else None,
        uid=int(locator.split("-")[-1]) if owner else None,
        locator=locator,
    )
    return archive.ingestor.ingest(Arrival(raw, source)).archive_id


def build_company(tmp_path: Path, database_url: str, remote_port: int = 9) -> Company:
    settings = make_settings(
        tmp_path, database_url, web={"secure_cookies": False, "time_zone": "Asia/Shanghai"}
    )
    settings.archive.company_domains = [COMPANY]
    ids: dict[str, int] = {}
    zhang = f"张伟 <zhang.wei@{COMPANY}>"
    with Archive(settings) as archive:
        quote = make_message(
            subject="Quotation PI-2024-031 报价单",
            body="Dear Hans,\nplease find our quotation for the 深圳 warehouse attached.\n",
            sender=zhang,
            to="Hans Müller <hans@kunde.de>",
            message_id="<quote@huaqiang-elec.com.cn>",
            date=datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC),
            attachments=[("报价单 PI-2024-031.pdf", b"%PDF-1.4 quotation", "application/pdf")],
        )
        ids["quote"] = _ingest(archive, quote, locator="q-1")
        reply = make_message(
            subject="Re: Quotation PI-2024-031 报价单",
            body="Thanks Zhang, we accept the price.\n",
            sender="Hans Müller <hans@kunde.de>",
            to=zhang,
            message_id="<reply@kunde.de>",
            extra_headers={"In-Reply-To": "<quote@huaqiang-elec.com.cn>"},
            date=datetime(2025, 3, 5, 8, 0, 0, tzinfo=UTC),
        )
        ids["reply"] = _ingest(archive, reply, locator="q-2")
        followup = make_message(
            subject="Re: Quotation PI-2024-031 报价单",
            body="Zhang, when will the goods ship?\n",
            sender="Hans Müller <hans@kunde.de>",
            to=zhang,
            message_id="<followup@kunde.de>",
            extra_headers={
                "In-Reply-To": "<reply@kunde.de>",
                "References": "<quote@huaqiang-elec.com.cn> <reply@kunde.de>",
            },
            date=datetime(2025, 3, 9, 8, 0, 0, tzinfo=UTC),
        )
        ids["hans_followup"] = _ingest(archive, followup, locator="q-3")
        szhq = make_message(
            subject="华强电子 采购订单 PO-778",
            body="李娜你好，附件是我们的采购订单，请确认交货期。\n",
            sender="陈经理 <chen@szhq.cn>",
            to=f"李娜 <li.na@{COMPANY}>",
            message_id="<po778@szhq.cn>",
            date=datetime(2025, 4, 1, 2, 0, 0, tzinfo=UTC),
        )
        ids["szhq"] = _ingest(archive, szhq, locator="s-1")
        internal = make_message(
            subject="Weekly sales meeting",
            body="Li Na, please bring the Hans numbers.\n",
            sender=zhang,
            to=f"李娜 <li.na@{COMPANY}>",
            message_id="<meeting@huaqiang-elec.com.cn>",
            date=datetime(2025, 4, 2, 2, 0, 0, tzinfo=UTC),
        )
        ids["internal"] = _ingest(archive, internal, locator="i-1")
        finance = make_message(
            subject="Bank reconciliation March",
            body="Confidential: the March bank statements.\n",
            sender=f"王芳 <wang.fang@{COMPANY}>",
            to="auditor@kpmg-cn.com",
            message_id="<bank@huaqiang-elec.com.cn>",
            date=datetime(2025, 4, 3, 2, 0, 0, tzinfo=UTC),
        )
        ids["finance"] = _ingest(archive, finance, locator="f-1")
        hostile = _hostile_message(remote_port)
        ids["hostile"] = _ingest(archive, hostile, owner=f"zhang.wei@{COMPANY}", locator="h-7")
        manage.update(settings, archive, lambda n: None, wait=True)
        db = archive.db
        users.add_user(db, "admin", PASSWORD, UserRole.ADMIN, display_name="IT Admin")
        users.add_user(db, "auditor", PASSWORD, UserRole.AUDITOR)
        users.add_user(db, "manager", PASSWORD, UserRole.MANAGER, email=f"boss@{COMPANY}")
        users.grant(db, "manager", GrantKind.EMPLOYEE, f"li.na@{COMPANY}", by="test")
        users.grant(db, "manager", GrantKind.DOMAIN, "kunde.de", by="test")
        users.add_user(db, "employee", PASSWORD, UserRole.EMPLOYEE, email=f"zhang.wei@{COMPANY}")
    return Company(settings, ids, remote_port)


def _hostile_message(port: int) -> bytes:
    from email.message import EmailMessage
    from email.policy import SMTP

    msg = EmailMessage()
    msg["From"] = "Mallory <mallory@evil.example>"
    msg["To"] = f"zhang.wei@{COMPANY}"
    msg["Subject"] = "付款通知 hostile html"
    msg["Message-ID"] = "<hostile@evil.example>"
    msg["Date"] = "Tue, 08 Apr 2025 10:00:00 +0000"
    msg.set_content("plain alternative")
    msg.add_alternative(HOSTILE_HTML.replace("{port}", str(port)), subtype="html")
    html_part = msg.get_payload()[1]  # type: ignore[index]
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(PNG, maintype="image", subtype="png", cid="<logo@hq>")
    return msg.as_bytes(policy=SMTP)


@pytest.fixture
def company(tmp_path: Path, database_url: str) -> Company:
    return build_company(tmp_path, database_url)


@pytest.fixture
def client(company: Company) -> Iterator[TestClient]:
    with company.client() as opened:
        yield opened


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; the session's CSRF token (for later forms)."""
    page = client.get("/login")
    token = client.cookies.get("mailvault_login")
    assert token
    assert f'value="{token}"' in page.text
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": token, "next": "/search"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    me = client.get("/api/me")
    assert me.status_code == 200
    csrf: str = me.json()["csrf_token"]
    return csrf


FORWARD_SUBJECT = "Fwd: Quotation PI-2024-031"


def add_risk_signal(company: Company) -> int:
    """Zhang forwards the customer's quotation to his own 163.com address and the detectors run
    (forward_to_personal); the archive id of the forward, behind the signal. The alerts tests
    and scripts/screenshots use it."""
    raw = make_message(
        sender=f"张伟 <zhang.wei@{COMPANY}>",
        to="zhangwei1988@163.com",
        subject=FORWARD_SUBJECT,
        message_id="<fwd-home@huaqiang-elec.com.cn>",
    )
    with Archive(company.settings) as archive:
        source = SourceInfo(
            SourceKind.SMTP,
            "127.0.0.1",
            locator="fwd",
            envelope_from=f"zhang.wei@{COMPANY}",
            envelope_to=("zhangwei1988@163.com",),
        )
        archive_id = archive.ingestor.ingest(Arrival(raw, source)).archive_id
        result = scan(archive, company.settings, settle=timedelta(0))
    if result.found.get("forward_to_personal") != 1:
        raise RuntimeError(f"the forward to 163.com gave no risk signal: {result}")
    return archive_id
