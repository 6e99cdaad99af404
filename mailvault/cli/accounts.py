"""`mailvault accounts add|list|remove|passwd|sync` and `mailvault sync`: mailboxes kept in sync."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from mailvault.archive.parsing import parse_pool
from mailvault.cli.context import State, pass_state, print_json
from mailvault.cli.imap import connection_options, print_summary, read_password
from mailvault.errors import ImapSyncError
from mailvault.imapsync import accounts as registry
from mailvault.imapsync.accounts import account_spec
from mailvault.imapsync.client import Endpoint
from mailvault.imapsync.importer import SyncSummary
from mailvault.imapsync.scheduler import sync_accounts, sync_due_forever
from mailvault.imapsync.secrets import SecretBox


@click.group("accounts")
def accounts() -> None:
    """IMAP accounts mailvault keeps in sync (employees' mailboxes at 163, QQ, Gmail, …)."""


@accounts.command("add")
@connection_options
@click.option("--interval", type=int, help="Seconds between syncs (default: [imap] sync_interval).")
@pass_state
def accounts_add(
    state: State, /, interval: int | None, password_file: Path | None, **connection: Any
) -> None:
    """Register an account: its password is checked now and stored encrypted; `mailvault serve`
    (or `mailvault sync`) then syncs it on its interval."""
    settings = state.settings
    spec = account_spec(settings, **connection)
    password = read_password(password_file, spec.username)
    endpoint = Endpoint(spec.host, spec.port, spec.security, settings.imap.timeout)  # type: ignore[arg-type]
    asyncio.run(registry.check_login(endpoint, spec.username, password))
    box = SecretBox(settings.resolved_imap_key_file, create=True)
    with state.archive() as archive:
        registry.register(archive.db, box, spec, password, interval or settings.imap.sync_interval)
    click.echo(f"registered {spec.name} for {spec.owner}; `mailvault accounts sync {spec.name}` syncs it now")


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_state
def accounts_list(state: State, as_json: bool) -> None:
    """Every account imported from, registered or not, with its last sync."""
    with state.archive() as archive:
        found = registry.listing(archive.db)
    if as_json:
        print_json([a.as_dict() for a in found])
        return
    if not found:
        click.echo("no IMAP accounts yet: `mailvault accounts add` or `mailvault import imap`")
    for a in found:
        when = a.last_sync_at.isoformat(timespec="seconds") if a.last_sync_at else "never"
        mode = f"every {a.interval_seconds}s" if a.registered else "one-off import"
        state_text = "STOPPED: " if a.stopped else ""
        problem = f"  {state_text}{a.last_error}" if a.last_error else ""
        click.echo(
            f"{a.name}  owner {a.owner}  {mode}  last sync {when}  {a.folders} folders, "
            f"{a.messages:,} messages{problem}"
        )


@accounts.command("remove")
@click.argument("name")
@pass_state
def accounts_remove(state: State, name: str) -> None:
    """Stop syncing NAME and forget its password. Its archived mail and history stay."""
    with state.archive() as archive:
        registry.unregister(archive.db, name)
    click.echo(f"{name} is no longer synced; its archived mail stays")


@accounts.command("passwd")
@click.argument("name")
@click.option("--password-file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@pass_state
def accounts_passwd(state: State, name: str, password_file: Path | None) -> None:
    """Store a new password for NAME (and resume an account stopped by a rejected one)."""
    settings = state.settings
    password = read_password(password_file, name)
    with state.archive() as archive:
        box = SecretBox(settings.resolved_imap_key_file, create=True)
        registry.set_password(archive.db, box, name, password)
    click.echo(f"new password stored for {name}")


@accounts.command("sync")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the summaries as JSON.")
@pass_state
def accounts_sync(state: State, names: tuple[str, ...], as_json: bool) -> None:
    """Sync registered accounts now (all of them, or NAMES)."""
    settings = state.settings
    box = SecretBox(settings.resolved_imap_key_file)
    with parse_pool(settings.ingest.parse_workers) as parse_map, state.archive(parse_map) as archive:
        chosen = registry.registered(archive.db, box, list(names) or None)
        results = asyncio.run(sync_accounts(archive, settings, chosen))
    _report(results, as_json)


@click.command("sync")
@click.option("--once", is_flag=True, help="Sync the accounts that are due, then exit.")
@pass_state
def sync(state: State, once: bool) -> None:
    """Keep registered IMAP accounts in sync, each on its interval (`mailvault serve` does this
    too). Stop with Ctrl-C: what was archived stays, the next run continues."""
    settings = state.settings
    box = SecretBox(settings.resolved_imap_key_file)
    with parse_pool(settings.ingest.parse_workers) as parse_map, state.archive(parse_map) as archive:
        if once:
            due = [a for a in registry.registered(archive.db, box) if a.due_at <= registry.now()]
            _report(asyncio.run(sync_accounts(archive, settings, due)), as_json=False)
        else:
            asyncio.run(sync_due_forever(archive, settings, asyncio.Event()))


def _report(results: list[tuple[str, SyncSummary | ImapSyncError]], as_json: bool) -> None:
    if as_json:
        rows = [
            r.as_dict() if isinstance(r, SyncSummary) else {"account": n, "error": str(r)} for n, r in results
        ]
        print_json(rows)
    else:
        for name, result in results:
            if isinstance(result, SyncSummary):
                print_summary(result)
            else:
                click.echo(f"{name}: failed: {result}", err=True)
    if any(isinstance(r, ImapSyncError) or r.counts.failed or r.incomplete for _, r in results):
        sys.exit(2)
