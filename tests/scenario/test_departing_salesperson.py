"""The story mailvault exists for, end to end, with real servers and the real command.

A salesperson's mailbox (a real Dovecot) holds a large customer's thread; the company's gateway
(`mailvault smtp`) journals the salesperson's outbound mail. The salesperson forwards the
customer's mail to a personal 163 address, asks the customer in Chinese to pay into a private
account, deletes the whole thread from the mailbox, and hands in their notice. The handover shows
the customer, the deleted thread (still readable, byte for byte), the risk signals, and produces an
evidence package that verifies offline. Then one stored byte, and then one database row, are
tampered with: `mailvault verify` fails and names each.
"""

from __future__ import annotations

import imaplib
import json
import os
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailvault.config import load_settings
from tests.gateway.test_crash import start_gateway
from tests.imap.cli import mailvault
from tests.imap.conftest import dovecot  # noqa: F401 (the session's Dovecot, a fixture)
from tests.imap.dovecot import PASSWORD, Dovecot
from tests.mailfactory import make_message
from tests.servers import free_port

COMPANY = "huaqiang-elec.com.cn"
CUSTOMER = "Hans Müller <hans@kunde.de>"
PERSONAL = "zhang.home@163.com"
COMPANY_ACCOUNT = "6222021001122334455"  # the company's own account at ICBC
PRIVATE_ACCOUNT = "6217 0000 9988 7766 554"
T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def _thread(employee: str) -> list[tuple[str, bytes]]:
    """The customer's thread: (folder, raw) in the order it was written."""
    me = f"张伟 <{employee}>"
    subjects = [
        "Inquiry: 20,000 pcs LED driver",
        "Quotation request",
        "Sample feedback",
        "PO 4711",
        "Shipment",
    ]
    mail: list[tuple[str, bytes]] = []
    parent: str | None = None
    for n, subject in enumerate(subjects):
        for side in ("in", "out"):
            message_id = f"<k{n}{side}@{'kunde.de' if side == 'in' else COMPANY}>"
            headers = {"In-Reply-To": parent, "References": parent} if parent else {}
            raw = make_message(
                sender=CUSTOMER if side == "in" else me,
                to=me if side == "in" else CUSTOMER,
                subject=subject if side == "in" else f"Re: {subject}",
                date=T0 + timedelta(days=3 * n, hours=0 if side == "in" else 4),
                message_id=message_id,
                extra_headers=headers,
                attachments=[("Quotation-QT2026-031.pdf", b"%PDF-1.4 quotation", "application/pdf")]
                if (n, side) == (1, "out")
                else [],
            )
            mail.append(("INBOX" if side == "in" else "Sent", raw))
            parent = message_id
    return mail


@pytest.fixture
def company(tmp_path: Path, dovecot: Dovecot) -> Iterator[tuple[Path, str, str, int]]:  # noqa: F811
    """(config, Dovecot user, employee address, gateway port) with the gateway running."""
    user = dovecot.add_user()
    employee = f"{user}@{COMPANY}"
    port = free_port()
    config = tmp_path / "mailvault.toml"
    config.write_text(
        f'[archive]\ndata_dir = "{tmp_path / "data"}"\ncompany_domains = ["{COMPANY}"]\n'
        "[ingest]\nparse_workers = 1\n"
        f'[smtp]\nlisteners = [{{ address = "127.0.0.1", port = {port} }}]\n'
        f'[signals]\ncompany_bank_accounts = ["{COMPANY_ACCOUNT}"]\nmass_deletion_messages = 5\n'
    )
    gateway = start_gateway(config, port)
    try:
        yield config, user, employee, port
    finally:
        os.killpg(gateway.pid, signal.SIGTERM)
        gateway.wait(timeout=60)


def _send(port: int, sender: str, recipients: list[str], raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail(sender, recipients, raw)


def _wait_archived(database: Path, message_id: str, seconds: float = 30.0) -> None:
    """The gateway acknowledged; its drain worker archives within moments."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if database.exists():
            with sqlite3.connect(database) as db:
                if db.execute("SELECT 1 FROM messages WHERE message_id = ?", (message_id,)).fetchone():
                    return
        time.sleep(0.1)
    raise AssertionError(f"{message_id} was acknowledged but not archived within {seconds} s")


def _delete_thread(server: Dovecot, user: str) -> int:
    """The salesperson deletes every message of the customer's thread, in every folder."""
    deleted = 0
    with imaplib.IMAP4("127.0.0.1", server.port) as imap:
        imap.login(user, PASSWORD)
        for folder in ("INBOX", "Sent"):
            imap.select(folder)
            _, found = imap.search(None, "OR", "FROM", "hans@kunde.de", "TO", "hans@kunde.de")
            numbers = found[0].split()
            if numbers:
                imap.store(b",".join(numbers).decode(), "+FLAGS", "\\Deleted")
                imap.expunge()
                deleted += len(numbers)
        imap.logout()
    return deleted


def test_a_departing_salesperson_leaves_nothing_behind(
    company: tuple[Path, str, str, int],
    dovecot: Dovecot,  # noqa: F811
    tmp_path: Path,
) -> None:
    config, user, employee, port = company
    thread = _thread(employee)
    for folder, raw in thread:
        dovecot.deliver(user, folder, [raw])

    # The company registers the mailbox; the first sync imports it.
    secret = tmp_path / "imap-password"
    secret.write_text(PASSWORD + "\n")
    mailvault(
        config, "accounts", "add", "--host", "127.0.0.1", "--port", str(dovecot.port), "--plain",
        "--user", user, "--owner", employee, "--password-file", str(secret),
    )  # fmt: skip
    mailvault(config, "accounts", "sync")

    # Through the gateway: a forward of the customer's quotation to a personal 163 address, and a
    # request to the customer, in Chinese, to pay into a private account.
    _send(
        port,
        employee,
        [PERSONAL],
        make_message(
            sender=f"张伟 <{employee}>",
            to=PERSONAL,
            subject="Fwd: Quotation request",
            date=T0 + timedelta(days=20),
            message_id=f"<fwd@{COMPANY}>",
        ),
    )
    payment = make_message(
        sender=f"张伟 <{employee}>",
        to=CUSTOMER,
        subject="关于货款支付 / payment for PO 4711",
        body=f"Hans 您好，\n由于公司账户调整，请将 PO 4711 的货款汇入以下新账户：\n"
        f"开户行：中国农业银行深圳分行\n账号：{PRIVATE_ACCOUNT}\n户名：张伟\n谢谢！\n",
        date=T0 + timedelta(days=21),
        message_id=f"<pay@{COMPANY}>",
    )
    _send(port, employee, ["hans@kunde.de"], payment)
    database = load_settings(config).archive.data_dir / "mailvault.sqlite3"
    _wait_archived(database, f"fwd@{COMPANY}")
    _wait_archived(database, f"pay@{COMPANY}")

    # The salesperson deletes the thread; the next sync notices.
    assert _delete_thread(dovecot, user) == len(thread)
    mailvault(config, "accounts", "sync")
    mailvault(config, "alerts", "scan")

    # The handover: secure again, then everything about the employee.
    report = json.loads(mailvault(config, "handover", employee, "--json").stdout)
    customers = [c["customer"] for c in report["customers"]]
    assert customers[0] == "kunde.de", customers
    assert PERSONAL not in customers, "the salesperson's own 163 address is no customer"
    assert report["personal_addresses"] == [PERSONAL]
    kunde = report["customers"][0]
    assert kunde["messages"] == len(thread) + 1  # the thread, and the payment request
    assert kunde["last_direction"] == "outbound"
    assert any(a["filename"] == "Quotation-QT2026-031.pdf" for a in kunde["attachments"])
    reconciliation = report["reconciliation"]
    assert reconciliation["deleted"] == len(thread)
    assert {r["subject"] for r in reconciliation["removals"]} >= {
        "Inquiry: 20,000 pcs LED driver",
        "Re: PO 4711",
    }
    signals = {s["kind"]: s for s in report["signals"]}
    assert {"payment_details", "forward_to_personal", "mass_deletion"} <= signals.keys(), signals
    assert PRIVATE_ACCOUNT.replace(" ", "") in json.dumps(signals["payment_details"]["detail"])

    # The deleted thread is still readable, byte for byte.
    first_deleted = min(r["message"] for r in reconciliation["removals"])
    exported = subprocess.run(
        [sys.executable, "-m", "mailvault", "--config", str(config), "export", str(first_deleted)],
        capture_output=True,
        check=True,
    ).stdout
    assert exported in {raw for _, raw in thread}

    # The evidence package verifies offline, with nothing but Python.
    package = tmp_path / "evidence.zip"
    mailvault(
        config, "handover", employee, "--no-secure", "--customer", "kunde.de", "--evidence", str(package)
    )
    checker_dir = tmp_path / "offline"
    checker_dir.mkdir()
    with zipfile.ZipFile(package) as zf:
        (checker_dir / "verify_evidence.py").write_bytes(zf.read("verify_evidence.py"))
        emls = [n for n in zf.namelist() if n.endswith(".eml")]
    assert len(emls) == len(thread) + 1
    shutil.copy(package, checker_dir / "package.zip")
    offline = subprocess.run(
        [sys.executable, "-I", "verify_evidence.py", "package.zip"],
        cwd=checker_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert offline.returncode == 0, offline.stdout + offline.stderr

    # The archive verifies; one altered stored byte, then one altered row, are named.
    assert mailvault(config, "verify").returncode == 0
    settings = load_settings(config)
    with sqlite3.connect(database) as db:
        sha, archive_id = db.execute(
            "SELECT sha256, archive_id FROM messages WHERE message_id = ?", (f"pay@{COMPANY}",)
        ).fetchone()
    blob = next(settings.archive.resolved_blob_dir.glob(f"{sha[:2]}/{sha}*"))
    original = blob.read_bytes()
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0x01
    blob.chmod(0o644)
    blob.write_bytes(bytes(tampered))
    broken = mailvault(config, "verify", check=False)
    assert broken.returncode != 0
    assert sha in broken.stdout + broken.stderr
    blob.write_bytes(original)
    assert mailvault(config, "verify").returncode == 0

    with sqlite3.connect(database) as db:
        db.execute("UPDATE messages SET subject = 'invoice' WHERE archive_id = ?", (archive_id,))
    broken = mailvault(config, "verify", check=False)
    assert broken.returncode != 0
    assert f"message {archive_id}" in broken.stdout + broken.stderr, broken.stdout + broken.stderr
