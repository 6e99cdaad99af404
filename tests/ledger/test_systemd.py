"""The checkpoint units are valid, hardened like mailvault.service, and run a command that exists."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailvault.cli import cli

UNITS = Path(__file__).resolve().parents[2] / "systemd"
SERVICE = UNITS / "mailvault-checkpoint.service"
TIMER = UNITS / "mailvault-checkpoint.timer"


def test_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    executable = shutil.which("mailvault") or str(Path(sys.executable).parent / "mailvault")
    for unit in (SERVICE, TIMER):
        (tmp_path / unit.name).write_text(unit.read_text().replace("/usr/local/bin/mailvault", executable))
    done = subprocess.run(
        [analyze, "verify", str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)],
        capture_output=True,
        text=True,
        check=False,
    )
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "mailvault-checkpoint" in line]
    assert problems == []


def test_service_is_hardened_and_runs_the_checkpoint_command() -> None:
    text = SERVICE.read_text()
    for setting in ("User=mailvault", "ProtectSystem=strict", "NoNewPrivileges=yes", "Type=oneshot"):
        assert setting in text
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    args = exec_start.split()[1:]
    assert args[-2:] == ["ledger", "checkpoint"]
    done = CliRunner().invoke(cli, [*args, "--help"], prog_name="mailvault")
    assert done.exit_code == 0, done.output
    assert "OnCalendar=daily" in TIMER.read_text()
