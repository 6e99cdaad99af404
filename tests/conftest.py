"""Shared fixtures: an archive on SQLite and on a real PostgreSQL, and the shared corpus."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailvault.archive import migrate
from mailvault.archive.db import Database
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
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with nothing in it: for the tests of creating and upgrading the schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mailvault.sqlite3'}"
    base: str = request.getfixturevalue("postgres_base_url")
    return create_database(base, f"test_{os.getpid()}_{next(_database_numbers)}")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite archive database at the current schema, made once and copied for each test
    (running every migration for each test cost a good part of the suite's time)."""
    path = tmp_path_factory.mktemp("template") / "mailvault.sqlite3"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_base_url: str) -> str:
    """The PostgreSQL counterpart: a database at the current schema that tests clone."""
    name = f"template_{os.getpid()}"
    _migrate(create_database(postgres_base_url, name))
    return name


def _migrate(url: str) -> None:
    db = Database(url)
    try:
        migrate.upgrade(db)
    finally:
        db.dispose()  # a template must have no connections left when it is copied


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of the test's own, already at the current schema."""
    if request.param == "sqlite":
        path = tmp_path / "mailvault.sqlite3"
        shutil.copy2(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    base: str = request.getfixturevalue("postgres_base_url")
    template: str = request.getfixturevalue("postgres_template")
    return create_database(base, f"test_{os.getpid()}_{next(_database_numbers)}", template=template)


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
