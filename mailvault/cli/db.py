"""`mailvault db`: the schema of the metadata database."""

from __future__ import annotations

import click

from mailvault.archive import migrate
from mailvault.archive.db import Database
from mailvault.cli.context import State, pass_state


@click.group()
def db() -> None:
    """Create or upgrade the metadata database schema."""


@db.command()
@pass_state
def upgrade(state: State) -> None:
    """Bring the database schema to this version of mailvault (creates it when empty)."""
    database = Database(state.settings.archive.resolved_database_url)
    try:
        before = migrate.current_revision(database)
        migrate.upgrade(database)
        after = migrate.current_revision(database)
    finally:
        database.dispose()
    if before == after:
        click.echo(f"database {database.safe_url} is up to date (revision {after})")
    else:
        click.echo(f"database {database.safe_url} upgraded from {before or 'empty'} to {after}")


@db.command()
@pass_state
def current(state: State) -> None:
    """Show the schema revision of the database and the one this mailvault needs."""
    database = Database(state.settings.archive.resolved_database_url)
    try:
        click.echo(f"database:  {database.safe_url}")
        click.echo(f"revision:  {migrate.current_revision(database) or 'empty'}")
        click.echo(f"needed:    {migrate.head_revision(database)}")
    finally:
        database.dispose()
