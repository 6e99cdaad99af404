"""Schema migrations: Alembic revisions in migrations/, applied by `mailvault db upgrade`."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from mailvault.archive.db import Database
from mailvault.errors import SchemaError

log = logging.getLogger(__name__)


def migrations_dir() -> Path:
    """Top-level migrations/ in a checkout; the copy inside the package once installed."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise SchemaError("the migrations folder is missing from this installation; reinstall mailvault")


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = db.engine
    return config


def head_revision(db: Database) -> str:
    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    if head is None:
        raise SchemaError("the migrations folder holds no revision; reinstall mailvault")
    return head


def current_revision(db: Database) -> str | None:
    with db.translate_errors(), db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    with db.translate_errors():
        command.upgrade(alembic_config(db), revision)


def ensure_schema(db: Database, *, create: bool = True) -> None:
    """Create the schema in an empty database; refuse to run against an old or unknown one."""
    current = current_revision(db)
    head = head_revision(db)
    if current == head:
        return
    if current is None:
        with db.translate_errors():
            tables = inspect(db.engine).get_table_names()
        if tables:
            raise SchemaError(
                f"database {db.safe_url} has tables but no mailvault schema version; "
                "point [archive] database_url at an empty database"
            )
        if not create:
            raise SchemaError(f"database {db.safe_url} is empty; run `mailvault db upgrade`")
        log.info("creating the archive schema in %s", db.safe_url)
        upgrade(db)
        return
    raise SchemaError(
        f"database schema is at revision {current}, this mailvault needs {head}; "
        "back up the database, then run `mailvault db upgrade`"
    )
