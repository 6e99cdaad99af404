"""Database engines: SQLite tuned for durability and one writer at a time, or PostgreSQL."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from mailvault.errors import ArchiveError

log = logging.getLogger(__name__)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, full sync and explicit write transactions."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError as error:
        raise ArchiveError(f"[archive] database_url {url!r} is not a database URL") from error
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _prepare_sqlite_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 60})
        _tune_sqlite(engine)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except exc.NoSuchModuleError as error:
        raise ArchiveError(
            f"[archive] database_url {parsed.render_as_string(hide_password=True)!r} is not a "
            "database URL mailvault supports (sqlite:///PATH or postgresql+psycopg://...)"
        ) from error
    except ModuleNotFoundError as error:
        raise ArchiveError(
            f"no driver for {parsed.get_backend_name()}: install mailvault[postgresql]"
        ) from error


def _prepare_sqlite_file(path: Path) -> None:
    """Create the database file readable by its owner (and group) only: it holds who wrote to whom."""
    try:
        path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o640))
    except OSError as error:
        raise ArchiveError(f"cannot create the database {path}: {error.strerror}") from error


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event, not the driver, open transactions (see on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed transaction survives power loss (import checkpoints depend on it).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        # A writer takes the lock up front; upgrading a read lock later can fail with SQLITE_BUSY.
        if connection.get_execution_options().get("write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


class Database:
    """The engine plus session factories for reading and for the single write path."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self.translate_errors(), self._sessions() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction that commits on success; on SQLite it holds the write lock throughout."""
        with self.translate_errors(), self.engine.connect() as conn:
            conn = conn.execution_options(write=True)
            with Session(bind=conn, expire_on_commit=False) as session, session.begin():
                yield session

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        try:
            yield
        except exc.OperationalError as error:
            raise ArchiveError(
                f"database unavailable ({_first_line(error)}); check {self.safe_url}"
            ) from error
        except exc.DBAPIError as error:
            if isinstance(error, exc.IntegrityError):
                raise
            raise ArchiveError(f"database error: {_first_line(error)}") from error

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
