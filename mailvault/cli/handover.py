"""`mailvault handover EMPLOYEE`: the departing employee's handover from the command line."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Literal

import click

from mailvault.archive.parsing import parse_pool
from mailvault.archive.store import Archive
from mailvault.cli.context import State, pass_state, print_json
from mailvault.cli.users import operator_name
from mailvault.config import Settings
from mailvault.handover import workflow
from mailvault.handover.evidence import build_handover_package
from mailvault.handover.view import HandoverView, gather
from mailvault.imapsync import accounts as registry
from mailvault.imapsync.scheduler import sync_accounts
from mailvault.imapsync.secrets import SecretBox


@click.command("handover")
@click.argument("employee")
@click.option(
    "--secure/--no-secure",
    default=True,
    show_default=True,
    help="Import every registered mailbox of the employee now, before reporting.",
)
@click.option("--successor", help="Username who takes over the customers given with --customer.")
@click.option(
    "--customer",
    "customers",
    multiple=True,
    help="A customer (domain, or address for free mail) to hand over; repeat. 'all' hands over every one.",
)
@click.option(
    "--evidence",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the evidence package (the --customer customers' mail, or all of it) to this zip.",
)
@click.option(
    "--language", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Of the report."
)
@click.option("--close", "close_it", is_flag=True, help="Close the handover when done.")
@click.option("--top", default=20, show_default=True, help="Customers listed (--json lists all).")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
@pass_state
def handover(
    state: State,
    employee: str,
    secure: bool,
    successor: str | None,
    customers: tuple[str, ...],
    evidence: Path | None,
    language: Literal["zh", "en"],
    close_it: bool,
    top: int,
    as_json: bool,
) -> None:
    """Hand over EMPLOYEE (their mail address): secure their mailboxes, reconcile the archive with
    them, list their customers and open conversations, and give a successor their customers."""
    settings = state.settings
    by = operator_name()
    with parse_pool(settings.ingest.parse_workers) as parse_map, state.archive(parse_map) as archive:
        current = workflow.open_handover(archive.db, employee, by=by)
        if secure and any(a.registered for a in current.accounts):
            _secure(archive, settings, current.employee, by, quiet=as_json)
        view = gather(archive.db, settings, current.employee)
        if successor:
            chosen = [c.key for c in view.customers] if "all" in customers else list(customers)
            workflow.grant_successor(archive.db, current.employee, successor, chosen, by=by)
            view = gather(archive.db, settings, current.employee)
        elif customers and evidence is None:
            raise click.UsageError("--customer needs --successor or --evidence")
        if evidence is not None:
            chosen = [] if "all" in customers else list(customers)
            result = build_handover_package(
                archive,
                view,
                chosen,
                evidence,
                built_by=by,
                language=language,
                time_zone=settings.web.time_zone,
            )
            if not as_json:
                click.echo(
                    f"evidence package: {evidence} ({result.count} messages, sha256 {result.sha256}); "
                    f"check it with: python3 verify_evidence.py {evidence.name}"
                )
        if close_it:
            workflow.close_handover(archive.db, current.employee, by=by)
    if as_json:
        print_json(view.as_dict())
    else:
        _print(view, top)


def _secure(archive: Archive, settings: Settings, employee: str, by: str, *, quiet: bool) -> None:
    names = workflow.request_secure(archive.db, employee, by=by)
    box = SecretBox(settings.resolved_imap_key_file)
    results = asyncio.run(sync_accounts(archive, settings, registry.registered(archive.db, box, names)))
    for name, result in results:
        if isinstance(result, Exception):
            click.echo(f"{name}: not secured: {result}", err=True)
        elif not quiet:
            counts = result.counts
            click.echo(
                f"{name}: secured: {counts.new} new; {result.deleted} deleted and {result.moved} moved "
                "at the source"
            )


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _print(view: HandoverView, top: int) -> None:
    s, r = view.state, view.reconciliation
    echo = click.echo
    echo(f"Handover of {s.employee}, opened {_when(s.opened_at)} UTC by {s.opened_by}")
    echo("")
    echo("1. Secure")
    if not s.accounts:
        echo("   no mailbox of this employee is known to mailvault")
    for account in s.accounts:
        status = (
            "secured"
            if account.secured
            else ("failed: " + account.last_error if account.last_error else "not yet")
        )
        echo(f"   {account.name}: {status} (last sync {_when(account.last_sync_at)})")
    echo("")
    echo("2. Reconcile")
    echo(f"   archived: {r.archived} messages ({r.by_gateway} by the gateway, {r.by_import} imported)")
    echo(f"   in their mailboxes now: {r.in_mailboxes}; only in the archive: {r.only_in_archive}")
    echo(f"   deleted by them: {r.deleted}; moved: {r.moved}")
    for removal in r.removals[:top]:
        echo(
            f"   - {removal.how} {_when(removal.noticed_at)}: #{removal.archive_id} "
            f"{removal.subject!r} ({removal.folder})"
        )
    echo("")
    echo(f"3. Customers: {len(view.customers)}, open conversations: {view.open_threads}")
    for customer in view.customers[:top]:
        echo(
            f"   {customer.key}: {customer.messages} messages, {_when(customer.first_contact)} to "
            f"{_when(customer.last_contact)}, last {customer.last_direction}, "
            f"{len(customer.open_threads)} open"
        )
        for thread in customer.open_threads[:3]:
            echo(f"     open ({thread.reason}): {thread.subject!r} #{thread.last_archive_id}")
    if view.personal_addresses:
        echo(f"   not customers, their own personal addresses: {', '.join(view.personal_addresses)}")
    if len(view.customers) > top:
        echo(f"   … {len(view.customers) - top} more (--top, or --json)")
    echo("")
    echo("4. Successor")
    if s.successor:
        echo(f"   {s.successor}, granted {_when(s.granted_at)} UTC by {s.granted_by}")
    else:
        echo("   none yet: --successor USER --customer DOMAIN (or --customer all)")
    if view.signals:
        echo("")
        echo(f"Risk signals: {len(view.signals)}")
        for signal in view.signals[:top]:
            echo(f"   {signal.get('kind')}: {signal.get('summary')}")
    sys.stdout.flush()
