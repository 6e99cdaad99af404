"""`mailvault serve` and `mailvault smtp`: the long-running services."""

from __future__ import annotations

import asyncio

import click

from mailvault import service
from mailvault.cli.context import State, pass_state


@click.command()
@pass_state
def serve(state: State) -> None:
    """Run every service of a single-machine install (today: the SMTP gateway and its archiver).

    Stops cleanly on SIGTERM or Ctrl-C: no new connections, sessions in flight may finish, journaled
    mail is archived.
    """
    asyncio.run(service.run(state.settings))


@click.command()
@pass_state
def smtp(state: State) -> None:
    """Run the SMTP gateway: journal every message durably, then archive it.

    Listeners, modes and limits come from the [smtp] section of the configuration.
    """
    asyncio.run(service.run(state.settings))
