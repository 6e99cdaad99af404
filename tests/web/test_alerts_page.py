"""The risk signals dashboard: each role sees the signals about the mail it may read, links to the
messages behind them, and only admins and the employee's managers dismiss, with a reason, audited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailvault.access.models import AuditEvent
from mailvault.archive.store import Archive
from tests.web.conftest import COMPANY, Company, add_risk_signal, sign_in

ZHANG = f"zhang.wei@{COMPANY}"


def test_admin_sees_the_signal_with_its_message_and_dismisses_it(
    company: Company, client: TestClient
) -> None:
    archive_id = add_risk_signal(company)
    csrf = sign_in(client, "admin")
    page = client.get("/alerts")
    assert page.status_code == 200
    assert ZHANG in page.text
    assert f'href="/messages/{archive_id}"' in page.text
    assert "公司邮件发往私人邮箱" in page.text or "Company mail sent to a personal address" in page.text
    signal_id = int(page.text.split('action="/alerts/')[1].split("/")[0])
    empty = client.post(
        f"/alerts/{signal_id}/dismiss", data={"csrf": csrf, "reason": "  "}, follow_redirects=False
    )
    assert "error=" in empty.headers["location"], "a dismissal needs a reason"
    done = client.post(
        f"/alerts/{signal_id}/dismiss",
        data={"csrf": csrf, "reason": "his own test mailbox"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "done=" in done.headers["location"]
    assert f'href="/messages/{archive_id}"' not in client.get("/alerts").text
    assert "his own test mailbox" in client.get("/alerts?dismissed=1").text
    with Archive(company.settings) as archive, archive.db.reading() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.username == "admin")))
    assert "dismiss-signal" in actions
    assert "view-signals" in actions


def test_each_role_sees_only_signals_about_mail_it_may_read(company: Company, client: TestClient) -> None:
    add_risk_signal(company)
    sign_in(client, "manager")  # granted li.na: Zhang's signal is not theirs
    assert ZHANG not in client.get("/alerts").text
    with company.client() as auditor:
        csrf = sign_in(auditor, "auditor")
        page = auditor.get("/alerts")
        assert ZHANG in page.text
        assert 'action="/alerts/' not in page.text, "auditors look, never dismiss"
    with company.client() as employee:
        token = sign_in(employee, "employee")
        assert employee.get("/alerts").status_code == 403
        assert employee.post("/alerts/1/dismiss", data={"csrf": token, "reason": "x"}).status_code == 404
    assert csrf
