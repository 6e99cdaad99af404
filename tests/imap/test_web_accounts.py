"""IT registers an employee's mailbox from the web app (checked against a real Dovecot), sees it
listed, and stops syncing it; a wrong password is refused in one line and nothing is stored."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

from sqlalchemy import select

from mailvault.archive.models import ImapAccount
from mailvault.archive.store import Archive
from tests.imap.dovecot import PASSWORD, Dovecot
from tests.web.conftest import build_company, sign_in


def _notice(page: str) -> str:
    found = re.search(r'<p class="(?:error|hint)" role="(?:alert|status)">([^<]*)</p>', page)
    return unescape(found.group(1)) if found else ""


def test_register_and_stop_a_mailbox_from_the_web(dovecot: Dovecot, tmp_path: Path) -> None:
    user = dovecot.add_user()
    company = build_company(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3")
    form = {
        "operation": "add",
        "username": user,
        "owner": "Zhang.Wei@huaqiang-elec.com.cn",
        "host": "127.0.0.1",
        "port": str(dovecot.port),
        "security": "plain",
    }
    with company.client() as client:
        csrf = sign_in(client, "admin")
        wrong = client.post("/admin/accounts", data={**form, "csrf": csrf, "password": "not the password"})
        assert wrong.status_code == 200
        assert "\n" not in _notice(wrong.text)
        assert _notice(wrong.text)
        right = client.post("/admin/accounts", data={**form, "csrf": csrf, "password": PASSWORD})
        assert f"registered mailbox {user}@127.0.0.1 of zhang.wei@huaqiang-elec.com.cn" in _notice(right.text)
        assert f"{user}@127.0.0.1" in right.text
        with Archive(company.settings) as archive, archive.db.reading() as session:
            account = session.scalars(select(ImapAccount)).one()
            assert account.registered
            assert account.secret
            assert PASSWORD not in account.secret  # stored encrypted
        stopped = client.post(
            "/admin/accounts", data={"csrf": csrf, "operation": "remove", "name": f"{user}@127.0.0.1"}
        )
        assert "stopped syncing" in _notice(stopped.text)
        manager = company.client()
        with manager:
            manager_csrf = sign_in(manager, "manager")
            refused = manager.post(
                "/admin/accounts", data={**form, "csrf": manager_csrf, "password": PASSWORD}
            )
            assert refused.status_code == 403
