"""Sign-in, sessions, CSRF, rate limits, headers, and hostile HTML at the HTTP level (the
browser test proves the same in Chromium)."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from mailvault.access import audit, users
from mailvault.access.audit import Action
from mailvault.access.models import AuditEvent, WebSession
from mailvault.archive.store import Archive
from mailvault.errors import ArchiveError
from tests.web.conftest import PASSWORD, Company, build_company, sign_in


def _events(company: Company, **where: str) -> list[AuditEvent]:
    with Archive(company.settings) as archive, archive.db.reading() as session:
        query = select(AuditEvent).order_by(AuditEvent.event_id)
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return list(session.scalars(query))


def _login(client: TestClient, username: str, password: str) -> int:
    client.get("/login")
    token = client.cookies.get("mailvault_login") or ""
    form = {"username": username, "password": password, "csrf": token}
    return client.post("/login", data=form, follow_redirects=False).status_code


def test_session_cookie_and_headers(company: Company, client: TestClient) -> None:
    client.get("/login")
    token = client.cookies.get("mailvault_login") or ""
    answer = client.post(
        "/login", data={"username": "manager", "password": PASSWORD, "csrf": token}, follow_redirects=False
    )
    cookie = answer.headers["set-cookie"]
    assert "mailvault_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    page = client.get("/search?q=x")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    # Only the SHA-256 of the token is stored: the database does not hold a usable session.
    session_token = client.cookies.get("mailvault_session") or ""
    with Archive(company.settings) as archive, archive.db.reading() as session:
        stored = [row.token_hash for row in session.scalars(select(WebSession))]
    assert session_token
    assert session_token not in stored
    assert len(stored) == 1


def test_secure_cookies_by_default(tmp_path: Path) -> None:
    company = build_company(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3")
    company.settings.web.secure_cookies = True
    with company.client() as client:
        client.get("/login")
        token = client.cookies.get("mailvault_login") or ""
        answer = client.post(
            "/login", data={"username": "admin", "password": PASSWORD, "csrf": token}, follow_redirects=False
        )
    assert "Secure" in answer.headers["set-cookie"]


def test_csrf_is_required(company: Company, client: TestClient) -> None:
    assert _login(client, "manager", PASSWORD) == 303
    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf": "guessed"}).status_code == 403
    assert client.get("/api/me").status_code == 200  # still signed in
    other = company.client()
    with other:
        # a sign-in form posted without the form's own token (e.g. from another site)
        answer = other.post(
            "/login", data={"username": "admin", "password": PASSWORD}, follow_redirects=False
        )
        assert answer.status_code in (400, 422)
        assert other.get("/api/me").status_code == 401
    api = client.post("/api/logout")
    assert api.status_code == 403


def test_wrong_password_and_rate_limit(company: Company, client: TestClient) -> None:
    for _ in range(company.settings.web.login_failures_per_user):
        assert _login(client, "manager", "wrong password!") == 401
    assert _login(client, "manager", PASSWORD) == 429  # paused, even with the right password
    assert _login(client, "admin", PASSWORD) == 303  # other users are not locked out
    failed = _events(company, username="manager", action="sign-in")
    assert [e.outcome for e in failed] == ["failed"] * 5 + ["denied"]
    page = client.post("/login", data={"username": "x", "password": "y", "csrf": "z"})
    assert "\n" not in page.text.split('class="error"')[-1].split("</p>")[0]  # one line, no traceback


def test_api_sign_in(company: Company, client: TestClient) -> None:
    wrong = client.post("/api/login", json={"username": "auditor", "password": "nope nope nope"})
    assert wrong.status_code == 401
    right = client.post("/api/login", json={"username": "auditor", "password": PASSWORD})
    assert right.status_code == 200
    csrf = right.json()["csrf_token"]
    assert client.get("/api/audit").status_code == 200
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/api/me").status_code == 401


def test_disabling_ends_sessions(company: Company, client: TestClient) -> None:
    sign_in(client, "employee")
    with Archive(company.settings) as archive:
        users.set_disabled(archive.db, "employee", True)
    assert client.get("/api/me").status_code == 401
    assert _login(client, "employee", PASSWORD) == 401


def test_open_redirect_refused(company: Company, client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        client.cookies.clear()
        client.get("/login")
        token = client.cookies.get("mailvault_login") or ""
        answer = client.post(
            "/login",
            data={"username": "admin", "password": PASSWORD, "csrf": token, "next": target},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/search"


def test_hostile_html_is_defused(company: Company, client: TestClient) -> None:
    sign_in(client, "admin")
    page = client.get(f"/messages/{company.ids['hostile']}")
    assert page.status_code == 200
    srcdoc = unescape(re.search(r'srcdoc="([^"]*)"', page.text).group(1))  # type: ignore[union-attr]
    frame_tag = re.search(r"<iframe[^>]*>", page.text).group(0)  # type: ignore[union-attr]
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame_tag  # no allow-scripts
    lowered = srcdoc.lower()
    for forbidden in (
        "<script",
        "onload",
        "onerror",
        "javascript:",
        "<form",
        "<iframe",
        "<object",
        "<svg",
        "<link",
        "http-equiv",
        "position",
        "127.0.0.1",
    ):
        assert forbidden not in lowered, forbidden
    assert "data:image/png;base64," in srcdoc  # the inline (cid:) logo is shown
    assert "付款通知 payment notice" in srcdoc
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data:;" in policy  # no remote images
    assert "script-src 'self'" in policy
    assert "加载远程图片" in page.text  # "Load remote images" (the default language is Chinese)
    remote = client.get(f"/messages/{company.ids['hostile']}?remote=1")
    remote_doc = unescape(re.search(r'srcdoc="([^"]*)"', remote.text).group(1))  # type: ignore[union-attr]
    assert "http://127.0.0.1:9/remote.png" in remote_doc
    assert "<script" not in remote_doc.lower()
    assert "https: http:" in remote.headers["content-security-policy"]
    raw = client.get(f"/messages/{company.ids['hostile']}/raw")
    assert raw.headers["content-type"].startswith("text/plain")
    assert "sandbox" in raw.headers["content-security-policy"]


def test_every_access_is_audited(company: Company, client: TestClient) -> None:
    sign_in(client, "manager")
    quote = company.ids["quote"]
    client.get("/search", params={"q": "报价单"})
    client.get(f"/messages/{quote}")
    client.get(f"/messages/{quote}/raw")
    client.get(f"/messages/{quote}/attachments/0")
    client.get(f"/messages/{quote}/thread")
    exported = client.get("/export", params={"thread": quote, "format": "zip"})
    assert exported.status_code == 200
    client.get(f"/messages/{company.ids['finance']}")  # outside the manager's scope
    events = [(e.action, e.outcome, e.target, e.query, e.count) for e in _events(company, username="manager")]
    assert events[0][:2] == ("sign-in", "ok")
    assert ("search", "ok", "", "报价单", 3) in events
    assert ("view-message", "ok", f"message {quote}", "", 0) in events
    assert ("view-raw", "ok", f"message {quote}", "", 0) in events
    assert ("download", "ok", f"message {quote} attachment 0", "", 0) in events
    assert ("view-thread", "ok", f"thread of message {quote}", "", 3) in events
    export = [e for e in _events(company, username="manager", action="export")]
    assert len(export) == 1
    assert export[0].count == 3
    assert export[0].detail["sha256"] == exported.headers["x-export-sha256"]
    assert ("view-message", "denied", f"message {company.ids['finance']}", "", 0) in events
    every = _events(company)
    assert all(e.address == "testclient" for e in every if e.username == "manager")


def test_audit_trail_is_append_only(company: Company) -> None:
    refused = (ArchiveError, IntegrityError)  # SQLite's RAISE(ABORT) is a constraint failure
    with Archive(company.settings) as archive:
        audit.record(archive.db, username="admin", action=Action.SEARCH, address="127.0.0.1", query="x")
        with pytest.raises(refused, match="append-only"), archive.db.writing() as session:
            session.execute(text("UPDATE audit_events SET username = 'nobody'"))
        with pytest.raises(refused, match="append-only"), archive.db.writing() as session:
            session.execute(text("DELETE FROM audit_events"))
        with archive.db.reading() as session:
            assert session.scalars(select(AuditEvent.username)).all() == ["admin"]


def test_stale_form_says_so(company: Company, client: TestClient) -> None:
    sign_in(client, "admin")
    answer = client.post("/admin/users", data={"csrf": "old", "operation": "disable", "username": "employee"})
    assert answer.status_code == 403
    assert "表单已过期" in answer.text  # "the form is out of date", not "your role may not"
    assert (
        client.post("/api/logout", headers={"X-CSRF-Token": "old"})
        .json()["error"]
        .startswith("the form is out of date")
    )
