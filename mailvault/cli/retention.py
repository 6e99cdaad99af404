"""`mailvault retention …`, `mailvault holds …` and `mailvault purge`: how long mail is kept, what
must be kept regardless, and the one command that deletes archived mail."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mailvault.access import users
from mailvault.access.audit import Action
from mailvault.archive.db import Database
from mailvault.cli.context import State, pass_state, print_json
from mailvault.cli.users import PASSWORD_ENV, password_file_option, read_password
from mailvault.retention import RetentionDenied, holds, purge, rules
from mailvault.retention.authority import deny

_by = click.option(
    "--by",
    "by",
    required=True,
    metavar="USER",
    help="The mailvault user doing this; their password is asked.",
)


def _signed_in(db: Database, username: str, password_file: Path | None, action: Action) -> str:
    """`username`, once their password is right (from --password-file, $MAILVAULT_USER_PASSWORD or
    one prompt); a wrong password is refused, and audited, like a wrong role."""
    if password_file is None and not os.environ.get(PASSWORD_ENV) and sys.stdin.isatty():
        password = str(click.prompt(f"password of {username}", hide_input=True))
    else:
        password = read_password(password_file, username)  # the file or the environment
    user = users.authenticate(db, username, password)
    if user is None:
        why = f"{username} could not sign in: wrong password, or no such enabled user"
        deny(db, username, action, why)
        raise RetentionDenied(why)
    return user.username


# -- retention rules ----------------------------------------------------------------------


@click.group("retention")
def retention_group() -> None:
    """Retention rules: when `mailvault purge` may delete mail. Without rules, mail is kept forever."""


@retention_group.command("add")
@click.argument("name")
@click.option("--keep-days", type=int, required=True, help="Mail older than this many days may be purged.")
@click.option("--domain", help="Only mail with someone in this domain (or a sub-domain of it).")
@click.option("--owner", help="Only the mail of this employee (sent, received, or in their mailbox).")
@_by
@password_file_option
@pass_state
def retention_add(
    state: State,
    name: str,
    keep_days: int,
    domain: str | None,
    owner: str | None,
    by: str,
    password_file: Path | None,
) -> None:
    """Add a rule (admin only). It takes effect at the next `mailvault purge`."""
    with state.archive() as archive:
        user = _signed_in(archive.db, by, password_file, Action.RETENTION_CHANGE)
        rule = rules.add_rule(archive.db, name, keep_days, domain=domain, owner=owner, by=user)
    click.echo(f"retention rule {rule.name} added: {rule.describe()} may be purged")


@retention_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_state
def retention_list(state: State, as_json: bool) -> None:
    """Every rule, enabled or disabled."""
    with state.archive() as archive:
        found = rules.list_rules(archive.db)
    if as_json:
        print_json([r.as_dict() for r in found])
        return
    if not found:
        click.echo("no retention rules: all mail is kept forever")
    for rule in found:
        status = "enabled" if rule.active else f"disabled {rule.disabled_at:%Y-%m-%d} by {rule.disabled_by}"
        click.echo(f"{rule.name:<24} {rule.describe()}  ({status}; added by {rule.created_by})")


@retention_group.command("disable")
@click.argument("name")
@_by
@password_file_option
@pass_state
def retention_disable(state: State, name: str, by: str, password_file: Path | None) -> None:
    """Stop a rule from purging more (admin only). The rule stays on record."""
    with state.archive() as archive:
        user = _signed_in(archive.db, by, password_file, Action.RETENTION_CHANGE)
        rule = rules.disable_rule(archive.db, name, by=user)
    click.echo(f"retention rule {rule.name} disabled")


# -- legal holds --------------------------------------------------------------------------


@click.group("holds")
def holds_group() -> None:
    """Legal holds: mail no retention rule may purge while the hold is in force."""


@holds_group.command("add")
@click.argument("name")
@click.option("--query", default="", help="Hold what this search finds (the query language of `search`).")
@click.option("--owner", help="Hold the mail of this employee (sent, received, or in their mailbox).")
@click.option("--customer", help="Hold the mail with this customer: an address, or a whole domain.")
@click.option("--reason", default="", help="Why: the matter, case or request it is for.")
@_by
@password_file_option
@pass_state
def holds_add(
    state: State,
    name: str,
    query: str,
    owner: str | None,
    customer: str | None,
    reason: str,
    by: str,
    password_file: Path | None,
) -> None:
    """Place a hold (admin or auditor). Mail matching any of its criteria is kept from now on."""
    with state.archive() as archive:
        user = _signed_in(archive.db, by, password_file, Action.HOLD_CHANGE)
        hold = holds.place_hold(
            archive.db, name, query=query, owner=owner, customer=customer, reason=reason, by=user
        )
    click.echo(f"legal hold {hold.name} placed: {hold.describe()} is kept")


@holds_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_state
def holds_list(state: State, as_json: bool) -> None:
    """Every hold, in force or released."""
    with state.archive() as archive:
        found = holds.list_holds(archive.db)
    if as_json:
        print_json([h.as_dict() for h in found])
        return
    if not found:
        click.echo("no legal holds")
    for hold in found:
        status = "in force" if hold.active else f"released {hold.released_at:%Y-%m-%d} by {hold.released_by}"
        reason = f"; {hold.reason}" if hold.reason else ""
        click.echo(f"{hold.name:<24} {hold.describe()}  ({status}; placed by {hold.created_by}{reason})")


@holds_group.command("release")
@click.argument("name")
@_by
@password_file_option
@pass_state
def holds_release(state: State, name: str, by: str, password_file: Path | None) -> None:
    """Release a hold (admin or auditor): its mail falls under the retention rules again."""
    with state.archive() as archive:
        user = _signed_in(archive.db, by, password_file, Action.HOLD_CHANGE)
        hold = holds.release_hold(archive.db, name, by=user)
    click.echo(f"legal hold {hold.name} released")


# -- the purge ------------------------------------------------------------------------------


@click.command("purge")
@_by
@password_file_option
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.option("--yes", is_flag=True, help="Do not ask before deleting.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@pass_state
def purge_command(
    state: State, by: str, password_file: Path | None, dry_run: bool, yes: bool, as_json: bool
) -> None:
    """Delete the mail the retention rules have expired, except what a legal hold keeps (admin only).

    The only command that deletes archived mail. Each message deleted is sealed in the ledger.
    """
    if not (dry_run or yes or sys.stdin.isatty()):
        raise click.UsageError("give --yes to purge without a prompt, or --dry-run to see what it would do")

    def confirm(planned: purge.PurgePlan) -> bool:
        if yes:
            return True
        _print_plan(planned, dry_run=True)
        return click.confirm(f"delete these {len(planned.doomed)} message(s) for good?", default=False)

    with state.archive() as archive:
        user = _signed_in(archive.db, by, password_file, Action.PURGE)
        report = purge.purge(state.settings, archive, by=user, dry_run=dry_run, confirm=confirm)
    if as_json:
        print_json(report.as_dict())
        return
    if report.recovered_files or report.recovered_documents:
        verb = "found" if dry_run else "removed"
        click.echo(
            f"an earlier purge was completed: {verb} {report.recovered_files} blob file(s) and "
            f"{report.recovered_documents} index document(s) of purged messages"
        )
    if report.cancelled:
        click.echo("nothing deleted")
        return
    _print_plan(report.plan, dry_run=dry_run, report=report)


def _print_plan(planned: purge.PurgePlan, *, dry_run: bool, report: purge.PurgeReport | None = None) -> None:
    if not planned.tallies:
        click.echo("no retention rules are enabled: all mail is kept forever, nothing to purge")
        return
    verb = "would purge" if dry_run else "purged"
    for tally in planned.tallies.values():
        click.echo(
            f"rule {tally.rule} (keep {tally.keep_days} days): {tally.expired} expired, "
            f"{tally.held} held, {tally.kept} kept for now, {verb} {tally.purged}"
        )
    total = sum(t.purged for t in planned.tallies.values())
    click.echo(f"{verb} {total} message(s); {planned.held} held message(s) spared")
    if report is not None and report.skipped:
        click.echo(f"{len(report.skipped)} message(s) kept at the last moment (a new hold, a shared blob …)")
