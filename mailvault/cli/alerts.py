"""`mailvault alerts …`: risk signals found in archived mail, listed, scanned for and dismissed."""

from __future__ import annotations

from datetime import datetime

import click

from mailvault.access import audit
from mailvault.access.audit import Action
from mailvault.cli.context import State, pass_state, print_json
from mailvault.cli.users import operator_name
from mailvault.signals import store
from mailvault.signals.finding import SignalKind
from mailvault.signals.scan import scan as run_scan

_DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"])


@click.group("alerts", invoke_without_command=True)
@click.option("--employee", default=None, help="Only signals about this employee's address.")
@click.option(
    "--kind", type=click.Choice([k.value for k in SignalKind]), default=None, help="Only this kind."
)
@click.option("--since", type=_DATE, default=None, help="Only what happened on or after this date (UTC).")
@click.option("--all", "include_dismissed", is_flag=True, help="Include dismissed signals.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def alerts(
    ctx: click.Context,
    employee: str | None,
    kind: str | None,
    since: datetime | None,
    include_dismissed: bool,
    as_json: bool,
) -> None:
    """Risk signals: company mail forwarded to personal addresses, bulk forwarding, mass
    deletion, foreign bank accounts, customers writing to personal addresses (docs/signals.md).

    Without a subcommand, lists the signals not dismissed, newest first.
    """
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.find_object(State)
    if state is None:  # pragma: no cover (the top-level group always sets it)
        raise click.UsageError("run as `mailvault alerts`")
    with state.archive() as archive:
        found = store.list_signals(
            archive.db, employee=employee, kind=kind, since=since, include_dismissed=include_dismissed
        )
        filters = " ".join(
            f"{name}={value}"
            for name, value in (
                ("employee", employee),
                ("kind", kind),
                ("since", since),
                ("all", include_dismissed),
            )
            if value
        )
        audit.record(
            archive.db,
            username=operator_name(),
            action=Action.VIEW_SIGNALS,
            address="",
            query=filters,
            count=len(found),
        )
    if as_json:
        print_json([s.as_dict() for s in found])
        return
    if not found:
        click.echo(
            "no risk signals" + (" match" if filters else "") + "; `mailvault alerts scan` looks for new ones"
        )
    for s in found:
        when = s.occurred_at.isoformat(sep=" ", timespec="minutes")
        state_note = f"  [dismissed by {s.dismissed_by}: {s.dismiss_reason}]" if s.dismissed else ""
        click.echo(f"#{s.signal_id:<5} {when}  {s.kind:<22} {s.employee:<32} {s.summary}{state_note}")
        click.echo(
            f"       messages: {' '.join(str(i) for i in s.archive_ids[:20])}"
            + (" …" if len(s.archive_ids) > 20 else "")
        )


@alerts.command("scan")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.option(
    "--notify/--no-notify", default=None, help="E-mail new signals (default: [signals] notify_managers)."
)
@pass_state
def alerts_scan(state: State, as_json: bool, notify: bool | None) -> None:
    """Run every detector once over what is new in the archive."""
    with state.archive() as archive:
        result = run_scan(archive, state.settings, notify=notify)
    if as_json:
        print_json(result.as_dict())
        return
    for kind, count in result.found.items():
        click.echo(f"{kind:<24} {count} new")
    for reason in result.off:
        click.echo(f"off: {reason}")
    if result.notified or result.notify_failed:
        click.echo(f"notified {result.notified} signal(s); {result.notify_failed} failed (retried next scan)")


@alerts.command("dismiss")
@click.argument("signal_id", type=int)
@click.option("--reason", required=True, help="Why it is a false positive or dealt with (audited).")
@pass_state
def alerts_dismiss(state: State, signal_id: int, reason: str) -> None:
    """Dismiss a signal: it is hidden from the list and never raised again."""
    with state.archive() as archive:
        signal = store.dismiss(archive.db, signal_id, operator_name(), reason)
    click.echo(f"signal #{signal.signal_id} ({signal.kind}, {signal.employee}) dismissed")
