"""`mailvault web` as an operator runs it: serves the app, keeps the index current (mail
archived while it runs becomes searchable), stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from tests.imap.cli import write_config
from tests.mailfactory import make_message
from tests.servers import free_port
from tests.web.conftest import PASSWORD, build_company


def test_web_command_serves_and_indexes(tmp_path: Path) -> None:
    company = build_company(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3")
    port = free_port()
    config = write_config(company.settings, tmp_path, f"[web]\nport = {port}\nsecure_cookies = false\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
    web = subprocess.Popen(
        [sys.executable, "-m", "mailvault", "--config", str(config), "web"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and web.poll() is None:
            try:
                if httpx2.get(f"{base}/login", timeout=5).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.2)
        with httpx2.Client(base_url=base, timeout=30) as client:
            assert (
                client.post("/api/login", json={"username": "admin", "password": PASSWORD}).status_code == 200
            )
            assert client.get("/api/search", params={"q": "Zollfreilager"}).json()["total"] == 0
            new = make_message(subject="Zollfreilager Lieferung confirmed", message_id="<late@kunde.de>")
            path = tmp_path / "late.eml"
            path.write_bytes(new)
            subprocess.run(
                [sys.executable, "-m", "mailvault", "--config", str(config), "import", "eml", str(path)],
                check=True,
                capture_output=True,
                env=environ,
            )
            found = 0
            while time.monotonic() < deadline and not found:
                found = client.get("/api/search", params={"q": "Zollfreilager"}).json()["total"]
                time.sleep(0.3)
            assert found == 1, "mail archived while `mailvault web` runs did not become searchable"
    finally:
        web.send_signal(signal.SIGTERM)
        _, errors = web.communicate(timeout=60)
    assert web.returncode == 0, errors
    assert "Traceback" not in errors
