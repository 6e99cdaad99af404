"""The `mailvault` command: one group, a module of subcommands per area; errors are one line."""

from __future__ import annotations

import sys

import click

from mailvault.cli.accounts import accounts, sync
from mailvault.cli.alerts import alerts
from mailvault.cli.context import cli
from mailvault.cli.db import db
from mailvault.cli.evidence import evidence
from mailvault.cli.handover import handover
from mailvault.cli.imap import import_imap, report
from mailvault.cli.imports import import_
from mailvault.cli.ledger import ledger
from mailvault.cli.messages import export, show, status, verify
from mailvault.cli.retention import holds_group, purge_command, retention_group
from mailvault.cli.search import index, reindex, search, thread
from mailvault.cli.serve import serve, smtp, smtp_passwd
from mailvault.cli.users import users_group, web
from mailvault.errors import MailvaultError

__all__ = ["cli", "main"]

cli.add_command(db)
import_.add_command(import_imap)
cli.add_command(import_)
cli.add_command(report)
cli.add_command(accounts)
cli.add_command(sync)
cli.add_command(show)
cli.add_command(export)
cli.add_command(verify)
cli.add_command(ledger)
cli.add_command(status)
cli.add_command(search)
cli.add_command(thread)
cli.add_command(index)
cli.add_command(reindex)
cli.add_command(serve)
cli.add_command(smtp)
cli.add_command(smtp_passwd)
cli.add_command(users_group)
cli.add_command(web)
cli.add_command(evidence)
cli.add_command(retention_group)
cli.add_command(holds_group)
cli.add_command(purge_command)
cli.add_command(alerts)
cli.add_command(handover)


def main() -> None:
    """Entry point: expected failures print `mailvault: error: …` and exit 1, without a traceback."""
    try:
        cli.main(standalone_mode=False, prog_name="mailvault")
    except MailvaultError as exc:
        click.echo(f"mailvault: error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("mailvault: interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("mailvault: interrupted; work already acknowledged is kept", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)  # `mailvault export … | head` is fine
