"""The Alembic revisions build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from mailvault.archive import migrate
from mailvault.archive.db import Database
from mailvault.errors import SchemaError
from mailvault.schema import metadata


def test_revisions_match_the_models(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        migrate.upgrade(db)
        assert migrate.current_revision(db) == migrate.head_revision(db)
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        assert differences == []
        migrate.upgrade(db)  # upgrading again is harmless
        from alembic import command

        command.downgrade(migrate.alembic_config(db), "base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    finally:
        db.dispose()


def test_foreign_database_is_not_touched(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE customers (name TEXT)"))
        with pytest.raises(SchemaError, match="has tables but no mailvault schema"):
            migrate.ensure_schema(db)
    finally:
        db.dispose()


def test_old_schema_is_refused_until_upgraded(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        migrate.upgrade(db)
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
        with pytest.raises(SchemaError, match="run `mailvault db upgrade`"):
            migrate.ensure_schema(db)
    finally:
        db.dispose()


def test_concurrent_first_opens_create_the_schema_once(empty_database_url: str) -> None:
    """The gateway, an import and the web app may all open a fresh archive at the same moment."""
    from concurrent.futures import ThreadPoolExecutor

    def open_and_check(_: int) -> str | None:
        db = Database(empty_database_url)
        try:
            migrate.ensure_schema(db)
            return migrate.current_revision(db)
        finally:
            db.dispose()

    # Eight at once: with four, SQLite's "database is locked" on a first open showed once in a
    # few hundred runs; with eight, in about one in thirteen (before the fix in ensure_schema).
    with ThreadPoolExecutor(8) as pool:
        revisions = list(pool.map(open_and_check, range(8)))
    head = migrate.head_revision(Database(empty_database_url))
    assert revisions == [head] * 8
