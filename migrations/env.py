"""Alembic environment: runs revisions on the engine mailvault hands over (or a URL for tooling)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from mailvault.schema import metadata

config = context.config
target_metadata = metadata


def run() -> None:
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
