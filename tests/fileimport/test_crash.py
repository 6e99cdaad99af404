"""An import killed at a random point loses nothing: running it again completes the archive."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.mailfactory import make_message
from tests.servers import wait_for_session_to_end

COUNT = 400


def test_sigkill_mid_import_then_rerun(tmp_path: Path) -> None:
    mbox = tmp_path / "big.mbox"
    with mbox.open("wb") as handle:
        for n in range(COUNT):
            handle.write(b"From a@x Mon Jan  1 00:00:00 2024\n")
            raw = make_message(subject=f"PI-{n}", body=("报价明细 " * 50 + "\n") * 20)
            handle.write(raw.replace(b"\r\n", b"\n") + b"\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
    # Two parse workers: killed, the import must not leave its process pool behind.
    env |= {"MAILVAULT_INGEST__BATCH_SIZE": "10", "MAILVAULT_INGEST__PARSE_WORKERS": "2"}
    command = [
        sys.executable,
        "-m",
        "mailvault",
        "--data-dir",
        str(tmp_path / "data"),
        "--log-level",
        "ERROR",
    ]
    database = tmp_path / "data" / "mailvault.sqlite3"

    victim = subprocess.Popen([*command, "import", "mbox", str(mbox)], env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    committed = 0
    while committed < 30 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.02)
        committed = _count_messages(database)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    wait_for_session_to_end(victim.pid)
    assert 0 < committed < COUNT, "the import must be killed part-way for this test to mean anything"

    rerun = subprocess.run(
        [*command, "import", "mbox", str(mbox), "--json"], env=env, capture_output=True, check=True
    )
    summary = json.loads(rerun.stdout)
    assert summary["messages"] == COUNT
    assert summary["new"] + summary["already_imported"] == COUNT
    assert _count_messages(database) == COUNT

    verified = subprocess.run([*command, "verify", "--json"], env=env, capture_output=True, check=False)
    report = json.loads(verified.stdout)
    assert verified.returncode == 0, report
    assert report["checked"] == COUNT
    assert report["findings"] == []  # blobs written before the kill were recorded by the re-run


def _count_messages(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return 0
    try:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.Error:
        return 0  # schema not created yet
    finally:
        conn.close()
