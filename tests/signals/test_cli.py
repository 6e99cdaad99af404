"""`mailvault alerts`, `alerts scan` and `alerts dismiss`, as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailvault.access.models import AuditEvent
from mailvault.archive.store import Archive
from mailvault.cli import cli
from mailvault.config import load_settings
from mailvault.signals.store import SignalError
from tests.signals.build import LI, ZHANG, at, mail


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[archive]\ndata_dir = "{tmp_path / "data"}"\ndatabase_url = "{database_url}"\n'
        'company_domains = ["huaqiang-elec.com.cn"]\n'
        '[ingest]\nparse_workers = 1\n[signals]\ncompany_bank_accounts = ["6222 0212 3456 7890"]\n',
        encoding="utf-8",
    )
    with Archive(load_settings(path)) as archive:
        mail(archive, sender=ZHANG, to="zw8888@163.com", subject="Fwd: 报价单", date=at(1))
        mail(
            archive,
            sender=LI,
            to="hans@kunde.de",
            subject="Payment",
            body="Please remit to our new account no. 9558 8012 3456 7890 123.\n",
            date=at(2),
        )
    return path


def _run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout  # the log goes to stderr


def test_scan_list_dismiss(config: Path) -> None:
    counts = json.loads(_run(config, "alerts", "scan", "--json"))
    assert counts["found"]["forward_to_personal"] == 1
    assert counts["found"]["payment_details"] == 1
    assert "forward_to_personal      0 new" in _run(config, "alerts", "scan")

    listed = json.loads(_run(config, "alerts", "--json"))
    assert [(s["kind"], s["employee"]) for s in listed] == [
        ("payment_details", LI),  # newest first
        ("forward_to_personal", ZHANG),
    ]
    assert listed[0]["detail"]["account"] == "9558801234567890123"
    assert listed[1]["occurred_at"] == "2025-03-03T09:00:00Z"

    table = _run(config, "alerts", "--employee", ZHANG)
    assert f"#{listed[1]['signal_id']}" in table
    assert "zw8888@163.com" in table
    assert LI not in table
    assert "payment" not in _run(config, "alerts", "--kind", "forward_to_personal")

    done = _run(config, "alerts", "dismiss", str(listed[1]["signal_id"]), "--reason", "his private backup")
    assert "dismissed" in done
    assert ZHANG not in _run(config, "alerts")
    assert "his private backup" in _run(config, "alerts", "--all")

    with Archive(load_settings(config)) as archive, archive.db.reading() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.event_id)).all()
        assert "dismiss-signal" in actions
        assert "view-signals" in actions
        [who] = session.scalars(
            select(AuditEvent.username).where(AuditEvent.action == "dismiss-signal")
        ).all()
        assert who.startswith("cli:")


def test_dismiss_errors_are_one_line(config: Path) -> None:
    _run(config, "alerts", "scan")
    with pytest.raises(SignalError, match="no risk signal has id 42"):
        CliRunner().invoke(
            cli, ["--config", str(config), "alerts", "dismiss", "42", "--reason", "x"], catch_exceptions=False
        )
    missing = CliRunner().invoke(cli, ["--config", str(config), "alerts", "dismiss", "1"])
    assert missing.exit_code == 2
    assert "--reason" in missing.output
