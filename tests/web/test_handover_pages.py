"""The handover pages: who may open, look at and act on a handover; the steps shown; the successor
grant taking effect on what the successor can read; every step audited."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailvault.access.models import AuditEvent
from mailvault.archive.db import Database
from mailvault.evidence.checker import check
from tests.web.conftest import COMPANY, Company, sign_in

ZHANG = f"zhang.wei@{COMPANY}"
LI_NA = f"li.na@{COMPANY}"


def _open(client: TestClient, csrf: str, employee: str) -> int:
    answer = client.post("/handover", data={"csrf": csrf, "employee": employee}, follow_redirects=False)
    return answer.status_code


def test_admin_sees_customers_open_conversations_and_hands_them_over(
    company: Company, client: TestClient
) -> None:
    csrf = sign_in(client, "admin")
    assert _open(client, csrf, ZHANG) == 303
    page = client.get(f"/handover/{ZHANG}")
    assert page.status_code == 200
    assert "kunde.de" in page.text, "Hans at kunde.de is Zhang's customer"
    assert "szhq.cn" not in page.text, "Li Na's customer is not Zhang's"
    assert 'name="customer" value="kunde.de"' in page.text  # to hand over
    assert '<option value="kunde.de" selected>' in page.text  # in the evidence package
    granted = client.post(
        f"/handover/{ZHANG}",
        data={"csrf": csrf, "operation": "successor", "successor": "employee2", "customer": ["kunde.de"]},
        follow_redirects=False,
    )
    assert granted.status_code == 303
    assert "error=" in granted.headers["location"], "no such user yet"
    assert "employee2" in client.get(granted.headers["location"]).text


def test_successor_then_reads_the_customers_mail(company: Company, client: TestClient) -> None:
    csrf = sign_in(client, "admin")
    _open(client, csrf, ZHANG)
    client.post(
        "/admin/users",
        data={
            "csrf": csrf,
            "operation": "add",
            "username": "successor",
            "role": "employee",
            "email": f"new.sales@{COMPANY}",
            "password": "correct horse battery",
        },
    )
    quote = company.ids["quote"]
    with company.client() as other:
        sign_in(other, "successor")
        assert other.get(f"/messages/{quote}").status_code == 404
        answer = client.post(
            f"/handover/{ZHANG}",
            data={"csrf": csrf, "operation": "successor", "successor": "successor", "customer": ["kunde.de"]},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert "done=" in answer.headers["location"]
        assert other.get(f"/messages/{quote}").status_code == 200
        assert other.get(f"/messages/{company.ids['hostile']}").status_code == 404, "not a kunde.de message"
        assert other.get("/handover").status_code == 403, "an employee does not hand over"
    db = Database(company.settings.archive.resolved_database_url)
    try:
        with db.reading() as session:
            actions = [
                e.action for e in session.scalars(select(AuditEvent).where(AuditEvent.target == ZHANG))
            ]
    finally:
        db.dispose()
    assert "grant-successor" in actions
    assert "handover" in actions


def test_manager_hands_over_only_granted_employees_and_auditor_only_looks(
    company: Company, client: TestClient
) -> None:
    csrf = sign_in(client, "manager")  # granted li.na, not zhang.wei
    assert _open(client, csrf, LI_NA) == 303
    page = client.get(f"/handover/{LI_NA}")
    assert page.status_code == 200
    assert "szhq.cn" in page.text
    assert _open(client, csrf, ZHANG) == 403
    assert client.get(f"/handover/{ZHANG}").status_code == 403
    with company.client() as auditor:
        token = sign_in(auditor, "auditor")
        assert auditor.get(f"/handover/{LI_NA}").status_code == 200
        assert 'value="close"' not in auditor.get(f"/handover/{LI_NA}").text
        refused = auditor.post(f"/handover/{LI_NA}", data={"csrf": token, "operation": "close"})
        assert refused.status_code == 403
    closed = client.post(
        f"/handover/{LI_NA}", data={"csrf": csrf, "operation": "close"}, follow_redirects=False
    )
    assert closed.status_code == 303
    after = client.get(f"/handover/{LI_NA}")
    assert "no handover is open" in after.text, "a closed handover is history; open a new one to act again"


def test_secure_without_a_registered_mailbox_says_what_to_do(client: TestClient) -> None:
    csrf = sign_in(client, "admin")
    _open(client, csrf, ZHANG)
    answer = client.post(f"/handover/{ZHANG}", data={"csrf": csrf, "operation": "secure"})
    assert answer.status_code == 200
    assert "no registered mailbox" in answer.text


def test_evidence_package_downloads_verifies_and_is_audited(
    company: Company, client: TestClient, tmp_path: Path
) -> None:
    csrf = sign_in(client, "admin")
    _open(client, csrf, ZHANG)
    answer = client.post(f"/handover/{ZHANG}/evidence", data={"csrf": csrf, "customer": ["kunde.de"]})
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"] == "application/zip"
    package = tmp_path / "evidence.zip"
    package.write_bytes(answer.content)
    assert hashlib.sha256(answer.content).hexdigest() == answer.headers["x-evidence-sha256"]
    outcome = check(str(package))
    assert outcome.ok, outcome.lines()
    with zipfile.ZipFile(package) as zf:
        emls = [n for n in zf.namelist() if n.endswith(".eml")]
        assert {"report.html", "report.pdf", "manifest.json", "SHA256SUMS", "verify_evidence.py"} <= set(
            zf.namelist()
        )
        report = zf.read("report.html").decode()
    kunde = {company.ids[n] for n in ("quote", "reply", "hans_followup")}
    assert len(emls) == len(kunde)
    assert "kunde.de" in report
    assert ZHANG in report
    db = Database(company.settings.archive.resolved_database_url)
    try:
        with db.reading() as session:
            event = session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence")).one()
    finally:
        db.dispose()
    assert event.detail["sha256"] == answer.headers["x-evidence-sha256"]
    assert sorted(event.detail["archive_ids"]) == sorted(kunde)
    # Leaving nothing behind in the spool.
    assert not any((company.settings.archive.data_dir / "tmp").iterdir())


def test_evidence_of_an_unknown_customer_says_so(client: TestClient) -> None:
    csrf = sign_in(client, "admin")
    _open(client, csrf, ZHANG)
    answer = client.post(f"/handover/{ZHANG}/evidence", data={"csrf": csrf, "customer": ["nobody.example"]})
    assert answer.status_code == 200
    assert "not a customer of" in answer.text
