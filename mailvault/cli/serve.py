"""`mailvault serve` and `mailvault smtp`: the long-running services."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from mailvault import service
from mailvault.cli.context import State, pass_state
from mailvault.gateway.auth import set_password


@click.command()
@pass_state
def serve(state: State) -> None:
    """Run every service of a single-machine install: the SMTP gateway, its archiver, the
    search indexer, the sync of registered IMAP accounts, the risk-signal detectors and the web
    app ([web] address:port).

    Stops cleanly on SIGTERM or Ctrl-C: no new connections, sessions in flight may finish, journaled
    mail is archived.
    """
    asyncio.run(
        service.run(state.settings, with_indexer=True, with_sync=True, with_web=True, with_signals=True)
    )


@click.command("smtp-passwd")
@click.argument("name")
@click.option(
    "--file",
    "users_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Users file to change (default: [smtp] auth_users_file).",
)
@pass_state
def smtp_passwd(state: State, name: str, users_file: Path | None) -> None:
    """Set the SMTP AUTH password of NAME (asked twice on the terminal, never an argument)."""
    path = users_file or state.settings.smtp.auth_users_file
    if path is None:
        raise click.UsageError("give --file or set [smtp] auth_users_file")
    password = click.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    set_password(path, name, password)
    click.echo(f"password of {name} set in {path}")


@click.command()
@pass_state
def smtp(state: State) -> None:
    """Run the SMTP gateway alone: journal every message durably, then archive it (the search
    index is then kept by another machine's `mailvault serve` or `mailvault index update`).

    Listeners, modes and limits come from the [smtp] section of the configuration.
    """
    asyncio.run(service.run(state.settings))
