"""Schema migrations: Alembic revisions in migrations/, applied by `mailvault db upgrade`."""

from __future__ import annotations

import fcntl
import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

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
    """The revision this code needs. Read once per process: Alembic loads revision files as
    modules, which is not safe from several threads at once."""
    with _PROCESS_LOCK:
        return _head_of(migrations_dir())


@functools.cache
def _head_of(directory: Path) -> str:
    config = Config()
    config.set_main_option("script_location", str(directory))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise SchemaError("the migrations folder holds no revision; reinstall mailvault")
    return head


def current_revision(db: Database) -> str | None:
    with db.translate_errors(), db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    with db.translate_errors(), _migration_lock(db):
        command.upgrade(alembic_config(db), revision)


# Alembic keeps its migration context in module globals: one migration at a time per process.
_PROCESS_LOCK = threading.RLock()
_ADVISORY_KEY = 0x6D61696C7661  # "mailva": any constant shared by every mailvault process


@contextmanager
def _migration_lock(db: Database) -> Iterator[None]:
    """One migration at a time, across threads and across processes (gateway, importer, web)."""
    with _PROCESS_LOCK:
        if db.is_sqlite:
            lock_path = Path(str(db.engine.url.database) + ".migrate-lock")
            with lock_path.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        else:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_KEY})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_KEY})
                    conn.commit()


def ensure_schema(db: Database, *, create: bool = True) -> None:
    """Create the schema in an empty database; refuse to run against an old or unknown one."""
    head = head_revision(db)
    if db.is_sqlite:
        # The first connection to a new SQLite file turns it to WAL, and that does not wait for a
        # migration another thread or process is running ("database is locked"): look under the
        # migration lock (a local file lock, cheap).
        with db.translate_errors(), _migration_lock(db):
            current = current_revision(db)
    else:
        current = current_revision(db)
    if current is None and create:
        # Decide under the lock: another process may be creating the schema right now.
        with db.translate_errors(), _migration_lock(db):
            current = current_revision(db)
            if current is None:
                if inspect(db.engine).get_table_names():
                    raise SchemaError(
                        f"database {db.safe_url} has tables but no mailvault schema version; "
                        "point [archive] database_url at an empty database"
                    )
                log.info("creating the archive schema in %s", db.safe_url)
                command.upgrade(alembic_config(db), "head")
                return
    if current == head:
        return
    if current is not None:
        # Another process may be creating the schema right now, between two revisions: what it
        # ends at is what counts.
        with db.translate_errors(), _migration_lock(db):
            current = current_revision(db)
        if current == head:
            return
    if current is None:
        raise SchemaError(f"database {db.safe_url} is empty; run `mailvault db upgrade`")
    raise SchemaError(
        f"database schema is at revision {current}, this mailvault needs {head}; "
        "back up the database, then run `mailvault db upgrade`"
    )
