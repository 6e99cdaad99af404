"""Every role against every page and API route: what it may see it gets, what it may not is
answered exactly as a message that does not exist, and the refusal is in the audit trail."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailvault.access.models import AuditEvent
from mailvault.archive.bundle import verify_zip
from mailvault.archive.store import Archive
from tests.web.conftest import EXPECTED, Company, sign_in

ROLES = ("admin", "auditor", "manager", "employee")


def _message_routes(archive_id: int) -> list[str]:
    return [
        f"/messages/{archive_id}",
        f"/messages/{archive_id}/raw",
        f"/messages/{archive_id}/thread",
        f"/api/messages/{archive_id}",
        f"/api/messages/{archive_id}/raw",
        f"/api/messages/{archive_id}/thread",
    ]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reads_exactly_its_messages(company: Company, client: TestClient, role: str) -> None:
    sign_in(client, role)
    names = {archive_id: name for name, archive_id in company.ids.items()}
    found = client.get("/api/search", params={"q": "after:2000", "limit": 100}).json()
    assert {names[r["archive_id"]] for r in found["results"]} == EXPECTED[role]
    assert found["total"] == len(EXPECTED[role])  # hits outside the scope are not even counted
    for name, archive_id in company.ids.items():
        for route in _message_routes(archive_id):
            answer = client.get(route)
            if name in EXPECTED[role]:
                assert answer.status_code == 200, (role, route)
            else:
                assert answer.status_code == 404, (role, route)
                assert "Bank reconciliation" not in answer.text
                assert "hostile" not in answer.text
    refused = {n for n in company.ids if n not in EXPECTED[role]}
    with Archive(company.settings) as archive, archive.db.reading() as session:
        denied = session.scalars(
            select(AuditEvent).where(AuditEvent.username == role, AuditEvent.outcome == "denied")
        ).all()
    assert len(denied) == len(refused) * len(_message_routes(0))


@pytest.mark.parametrize("role", ROLES)
def test_attachment_downloads_follow_the_scope(company: Company, client: TestClient, role: str) -> None:
    sign_in(client, role)
    quote = client.get(f"/messages/{company.ids['quote']}/attachments/0")
    assert quote.status_code == 200  # every role may read the quotation thread
    assert quote.content == b"%PDF-1.4 quotation"
    assert quote.headers["content-type"] == "application/octet-stream"
    assert (
        "filename*=UTF-8''%E6%8A%A5%E4%BB%B7%E5%8D%95%20PI-2024-031.pdf"
        in quote.headers["content-disposition"]
    )
    api = client.get(f"/api/messages/{company.ids['hostile']}/attachments/0")
    assert api.status_code == (200 if "hostile" in EXPECTED[role] else 404)
    missing = client.get(f"/messages/{company.ids['quote']}/attachments/7")
    assert missing.status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_role_pages(company: Company, client: TestClient, role: str) -> None:
    sign_in(client, role)
    audit_allowed = role in ("admin", "auditor")
    assert client.get("/audit").status_code == (200 if audit_allowed else 403)
    assert client.get("/api/audit").status_code == (200 if audit_allowed else 403)
    assert client.get("/admin/users").status_code == (200 if role == "admin" else 403)
    assert client.get("/api/users").status_code == (200 if role == "admin" else 403)
    assert client.get("/admin/accounts").status_code == (200 if role == "admin" else 403)
    csrf = client.get("/api/me").json()["csrf_token"]
    change = client.post(
        "/admin/users",
        data={"csrf": csrf, "operation": "disable", "username": "employee"},
        follow_redirects=False,
    )
    assert change.status_code == (303 if role == "admin" else 403)


def test_auditor_changes_nothing(company: Company, client: TestClient) -> None:
    csrf = sign_in(client, "auditor")
    for form in (
        {"operation": "add", "username": "x", "role": "admin", "password": "long enough pw"},
        {"operation": "grant", "username": "manager", "kind": "domain", "value": "evil.example"},
    ):
        answer = client.post("/admin/users", data={"csrf": csrf, **form}, follow_redirects=False)
        assert answer.status_code == 403
    register = client.post("/admin/accounts", data={"csrf": csrf, "operation": "remove", "name": "x"})
    assert register.status_code == 403


ANONYMOUS_PAGES = [
    "/search?q=x",
    "/messages/1",
    "/messages/1/raw",
    "/messages/1/attachments/0",
    "/audit",
    "/admin/users",
]
ANONYMOUS_API = [
    "/api/search?q=x",
    "/api/messages/1",
    "/api/messages/1/raw",
    "/api/audit",
    "/api/users",
    "/api/me",
]


def test_nothing_without_signing_in(client: TestClient) -> None:
    for route in ANONYMOUS_PAGES:
        answer = client.get(route, follow_redirects=False)
        assert answer.status_code == 303, route
        assert answer.headers["location"].startswith("/login?next=")
    for route in ANONYMOUS_API:
        assert client.get(route).status_code == 401, route
    client.cookies.set("mailvault_session", "forged-token")
    assert client.get("/api/me").status_code == 401


def test_grant_revoked_takes_effect_at_once(company: Company, client: TestClient) -> None:
    sign_in(client, "manager")
    szhq = company.ids["szhq"]
    assert client.get(f"/messages/{szhq}").status_code == 200
    admin = company.client()
    with admin:
        csrf = sign_in(admin, "admin")
        revoked = admin.post(
            "/admin/users",
            data={
                "csrf": csrf,
                "operation": "revoke",
                "username": "manager",
                "kind": "employee",
                "value": "li.na@huaqiang-elec.com.cn",
            },
            follow_redirects=False,
        )
        assert revoked.status_code == 303
    assert client.get(f"/messages/{szhq}").status_code == 404
    found = client.get("/api/search", params={"q": "采购订单"}).json()
    assert found["total"] == 0


CUSTOMERS = {
    "admin": {"kunde.de", "szhq.cn", "kpmg-cn.com", "evil.example"},
    "auditor": {"kunde.de", "szhq.cn", "kpmg-cn.com", "evil.example"},
    "manager": {"kunde.de", "szhq.cn"},
    "employee": {"kunde.de", "evil.example"},
}


@pytest.mark.parametrize("role", ROLES)
def test_customers_within_the_scope(company: Company, client: TestClient, role: str) -> None:
    sign_in(client, role)
    listed = client.get("/api/customers").json()
    assert {c["domain"] for c in listed["customers"]} == CUSTOMERS[role]
    kunde = next(c for c in listed["customers"] if c["domain"] == "kunde.de")
    assert (kunde["messages_in"], kunde["messages_out"], kunde["open_threads"]) == (2, 1, 1)
    page = client.get("/customers")
    assert page.status_code == 200
    for domain in CUSTOMERS["admin"]:
        assert (f'href="/customers/{domain}"' in page.text) == (domain in CUSTOMERS[role])
        detail = client.get(f"/customers/{domain}")
        api = client.get(f"/api/customers/{domain}")
        expected = 200 if domain in CUSTOMERS[role] else 404
        assert (detail.status_code, api.status_code) == (expected, expected), domain
    threads = client.get("/api/customers/kunde.de").json()["threads"]
    assert [(t["messages"], t["open"]) for t in threads] == [(3, True)]


@pytest.mark.parametrize("role", ROLES)
def test_exports_hold_only_what_the_role_may_read(
    company: Company, client: TestClient, role: str, tmp_path: Path
) -> None:
    sign_in(client, role)
    names = {archive_id: name for name, archive_id in company.ids.items()}
    for name, archive_id in company.ids.items():
        for route in (f"/export?message={archive_id}", f"/api/export?thread={archive_id}&format=mbox"):
            answer = client.get(route)
            assert answer.status_code == (200 if name in EXPECTED[role] else 404), (role, route)
    everything = client.get("/api/export", params={"q": "after:2000", "format": "zip"})
    assert everything.status_code == 200
    path = tmp_path / "export.zip"
    path.write_bytes(everything.content)
    assert verify_zip(path) == []
    with zipfile.ZipFile(path) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
    assert {names[entry["archive_id"]] for entry in manifest["messages"]} == EXPECTED[role]


def test_openapi_describes_the_api(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    assert {
        "/api/login",
        "/api/search",
        "/api/messages/{archive_id}",
        "/api/messages/{archive_id}/raw",
        "/api/messages/{archive_id}/thread",
        "/api/messages/{archive_id}/attachments/{position}",
        "/api/customers",
        "/api/customers/{domain}",
        "/api/export",
        "/api/audit",
        "/api/users",
    } <= set(schema["paths"])
    assert not any(path.startswith("/messages") for path in schema["paths"])  # pages are not API
