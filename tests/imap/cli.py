"""Running the `mailvault` command as a user would, against a test's archive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mailvault.config import Settings


def write_config(settings: Settings, tmp_path: Path, extra: str = "") -> Path:
    """A configuration file for the test's archive (and `extra` TOML sections)."""
    config = tmp_path / "mailvault.toml"
    config.write_text(
        f'[archive]\ndata_dir = "{settings.archive.data_dir}"\n'
        f'database_url = "{settings.archive.resolved_database_url}"\n'
        f'company_domains = ["huaqiang-elec.com.cn"]\n[ingest]\nparse_workers = 1\n{extra}'
    )
    return config


def mailvault(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`mailvault --config CONFIG ARGS…` with none of the caller's MAILVAULT_* variables."""
    result = subprocess.run(
        [sys.executable, "-m", "mailvault", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"]},
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result
