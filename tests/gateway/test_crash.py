"""SIGKILL the gateway in the middle of a concurrent load: every message that got 250 is archived
byte for byte after the restart, and the messages that did not are accepted when resent."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from mailvault.archive.blobs import sha256_of
from mailvault.archive.store import Archive
from mailvault.archive.verify import verify
from mailvault.config import load_settings
from tests.servers import free_port

MESSAGES = 2000
SESSIONS = 20


def message(n: int) -> bytes:
    body = (f"Order {n}: 深圳华强电子 quotation line {n % 7}\r\n" * (20 + n % 50)).encode()
    return (
        f"From: sales{n % 13}@huaqiang-elec.com.cn\r\nTo: buyer{n % 17}@kunde.de\r\n"
        f"Subject: PI-{n:05d}\r\nMessage-ID: <crash-{n}@huaqiang-elec.com.cn>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode() + body


def start_gateway(config: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
    log = config.with_suffix(".log")
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "mailvault", "--config", str(config), "--log-level", "WARNING", "smtp"],
            env=env,
            stderr=stderr,
            start_new_session=True,  # its drain and parse processes share the session: see _left_over
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise AssertionError(f"gateway exited: {log.read_text()}") from None
            time.sleep(0.05)
    raise AssertionError("gateway did not start listening")


def load(port: int, numbers: list[int], acked: dict[int, bytes], lock: threading.Lock) -> None:
    """One client session after another, as an MTA's delivery agents do, until the server dies."""
    pending = list(numbers)
    while pending:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                while pending:
                    n = pending[0]
                    raw = message(n)
                    client.sendmail("sales@huaqiang-elec.com.cn", [f"buyer{n}@kunde.de"], raw)
                    with lock:
                        acked[n] = raw
                    pending.pop(0)
        except (OSError, smtplib.SMTPException):
            return  # the gateway is gone: what was not acknowledged stays with the sender


def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[archive]\ndata_dir = "{tmp_path / "data"}"\ndatabase_url = "{database_url}"\n'
        f'[ingest]\nparse_workers = 1\n[smtp]\nlisteners = [{{ address = "127.0.0.1", port = {port} }}]\n'
    )
    gateway = start_gateway(config, port)
    acked: dict[int, bytes] = {}
    lock = threading.Lock()
    clients = [
        threading.Thread(target=load, args=(port, list(range(s, MESSAGES, SESSIONS)), acked, lock))
        for s in range(SESSIONS)
    ]
    for client in clients:
        client.start()
    while len(acked) < MESSAGES // 3 and gateway.poll() is None:
        time.sleep(0.01)
    gateway.send_signal(signal.SIGKILL)
    gateway.wait()
    _no_process_outlives(gateway.pid)
    for client in clients:
        client.join(60)
    acknowledged = dict(acked)
    assert MESSAGES // 3 <= len(acknowledged) < MESSAGES, "the kill must land in the middle of the load"

    # Restart: the spool is drained into the archive; the senders retry what was not acknowledged.
    gateway = start_gateway(config, port)
    try:
        retry = [n for n in range(MESSAGES) if n not in acknowledged]
        load(port, retry, acked, lock)
        assert len(acked) == MESSAGES
        settings = load_settings(config)
        deadline = time.monotonic() + 120
        with Archive(settings) as archive:
            while True:
                missing = [n for n, raw in acked.items() if not _archived(archive, raw)]
                if not missing or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert missing == [], f"{len(missing)} acknowledged messages are not archived"
            for raw in acknowledged.values():
                assert archive.blobs.get(sha256_of(raw)) == raw
            report = verify(archive.db, archive.blobs)
            assert report.ok, report.findings
    finally:
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(60) == 0


def _archived(archive: Archive, raw: bytes) -> bool:
    from sqlalchemy import select

    from mailvault.archive.models import Blob

    with archive.db.reading() as session:
        return session.scalar(select(Blob.sha256).where(Blob.sha256 == sha256_of(raw))) is not None


def _no_process_outlives(session: int, seconds: float = 30.0) -> None:
    """The drain process (and its parse workers) must notice the gateway is gone and exit."""
    deadline = time.monotonic() + seconds
    while (left := _session_members(session)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes outlived the killed gateway: {left}"


def _session_members(session: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[3]) == session and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members
