"""The shipped systemd unit is valid and runs the command that exists."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "mailvault.service"


def test_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    executable = shutil.which("mailvault") or str(Path(sys.executable).parent / "mailvault")
    unit = tmp_path / "mailvault.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/mailvault", executable))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, check=False)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "mailvault.service" in line]
    assert problems == []
    assert "serve" in UNIT.read_text()
    assert "ProtectSystem=strict" in UNIT.read_text()
