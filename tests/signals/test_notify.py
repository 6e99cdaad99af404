"""New signals are mailed to admins and to the managers who may read the employee's mail."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default
from pathlib import Path

from mailvault.access.models import GrantKind, UserRole
from mailvault.access.users import add_user, grant, set_disabled
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.signals import store
from tests.servers import free_port
from tests.signals.build import LI, ZHANG, at, mail, scan_all
from tests.sink import Sink

PASSWORD = "correct horse battery"  # noqa: S105 (a test user's)


def _users(archive: Archive) -> None:
    db = archive.db
    add_user(db, "boss", PASSWORD, UserRole.ADMIN, email="boss@huaqiang-elec.com.cn")
    add_user(db, "sales-lead", PASSWORD, UserRole.MANAGER, email="lead@huaqiang-elec.com.cn")
    grant(db, "sales-lead", GrantKind.EMPLOYEE, ZHANG, by="test")
    add_user(db, "other-lead", PASSWORD, UserRole.MANAGER, email="other@huaqiang-elec.com.cn")
    grant(db, "other-lead", GrantKind.EMPLOYEE, LI, by="test")
    grant(db, "other-lead", GrantKind.DOMAIN, "kunde.de", by="test")  # customers' mail, not Zhang's
    add_user(db, "gone-lead", PASSWORD, UserRole.MANAGER, email="gone@huaqiang-elec.com.cn")
    grant(db, "gone-lead", GrantKind.EMPLOYEE, ZHANG, by="test")
    set_disabled(db, "gone-lead", True)
    add_user(db, "auditor", PASSWORD, UserRole.AUDITOR, email="audit@huaqiang-elec.com.cn")


def _with_server(archive: Archive, server: str) -> Settings:
    return archive.settings.model_copy(
        update={"notify": archive.settings.notify.model_copy(update={"smtp_server": server})}
    )


def test_signal_mail_reaches_the_right_manager_only(archive: Archive, tmp_path: Path) -> None:
    _users(archive)
    mail(archive, sender=ZHANG, to="zw8888@163.com", subject="Fwd: 报价单", date=at(1))

    archive.settings = _with_server(archive, f"127.0.0.1:{free_port()}")  # nobody listens: fails
    failed = scan_all(archive, notify=True)
    assert (failed.total, failed.notified, failed.notify_failed) == (1, 0, 1)
    assert store.list_signals(archive.db)[0].notified_at is None

    with Sink() as sink:
        archive.settings = _with_server(archive, sink.address)
        sent = scan_all(archive, notify=True)
        again = scan_all(archive, notify=True)

    assert (sent.total, sent.notified, sent.notify_failed) == (0, 1, 0), "retried at the next scan"
    assert again.notified == 0, "mailed once"
    assert sorted(r for d in sink.handler.delivered for r in d.rcpt_tos) == [
        "boss@huaqiang-elec.com.cn",
        "lead@huaqiang-elec.com.cn",
    ]
    body = message_from_bytes(sink.handler.delivered[0].raw, policy=default)
    assert "zw8888@163.com" in body.get_content()
    assert store.list_signals(archive.db)[0].notified_at is not None


def test_no_mail_unless_asked(archive: Archive) -> None:
    _users(archive)
    mail(archive, sender=ZHANG, to="zw8888@163.com", subject="Fwd: 报价单", date=at(1))
    with Sink() as sink:
        archive.settings = _with_server(archive, sink.address)
        result = scan_all(archive)  # [signals] notify_managers is false by default

    assert (result.total, result.notified, sink.handler.delivered) == (1, 0, [])
