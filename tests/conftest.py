"""Shared fixtures: an archive on SQLite and on a real PostgreSQL, and the shared corpus."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailvault.archive.store import Archive
from mailvault.config import Settings, load_settings
from tests.index.agreement import assert_index_agrees
from tests.servers import REQUIRE_ENV, create_database, postgres_bindir, postgres_server

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str]:
    if postgres_bindir() is None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail("PostgreSQL is required here but not installed; run `bash .ci/run`")
        pytest.skip("PostgreSQL not installed (apt-get install postgresql); `bash .ci/run` does it")
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mailvault.sqlite3'}"
    base: str = request.getfixturevalue("postgres_base_url")
    return create_database(base, f"test_{os.getpid()}_{next(_database_numbers)}")


def make_settings(tmp_path: Path, database_url: str, **sections: Any) -> Settings:
    """Settings for a test archive in tmp_path: the company's domain, parsing in-process."""
    return load_settings(
        archive={
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "company_domains": ["huaqiang-elec.com.cn"],
        },
        ingest={"parse_workers": 1},
        **sections,
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def archive(settings: Settings) -> Iterator[Archive]:
    """An opened archive; after the test, the search index built from it must agree with it."""
    with Archive(settings) as opened:
        yield opened
        assert_index_agrees(settings, opened)


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS} (it lives beside the checkout)")
    return CORPUS


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the machine's /etc/mailvault or the caller's MAILVAULT_* variables."""
    for name in list(os.environ):
        if name.startswith("MAILVAULT_") and name != REQUIRE_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setattr("mailvault.config.SYSTEM_CONFIG", Path("/nonexistent/mailvault.toml"))
