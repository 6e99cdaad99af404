"""`mailvault import imap` and `mailvault report deletions`."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from sqlalchemy import select

from mailvault.archive.models import Message, Source, SourceKind
from mailvault.archive.parsing import parse_pool
from mailvault.cli.context import State, pass_state, print_json
from mailvault.errors import ConfigError
from mailvault.imapsync.accounts import account_spec
from mailvault.imapsync.importer import AccountSync, SyncSummary
from mailvault.imapsync.providers import PROVIDERS

log = logging.getLogger(__name__)

PASSWORD_ENV = "MAILVAULT_IMAP_PASSWORD"  # noqa: S105 - the name of the variable, not a password


_CONNECTION_OPTIONS = [
    click.option("--host", help="IMAP server (default: the provider's, from --user or --provider)."),
    click.option("--port", type=int, help="Port (default: 993 with TLS, 143 otherwise)."),
    click.option("--tls", "security", flag_value="tls", help="TLS from the start (port 993; the default)."),
    click.option("--starttls", "security", flag_value="starttls", help="Upgrade to TLS (STARTTLS)."),
    click.option(
        "--plain", "security", flag_value="plain", help="No encryption (servers on a trusted network only)."
    ),
    click.option("--user", "username", required=True, help="Login name, usually the full address."),
    click.option("--owner", required=True, help="The employee whose mailbox it is (company address)."),
    click.option(
        "--provider",
        type=click.Choice([p.key for p in PROVIDERS], case_sensitive=False),
        help="Provider preset (server, connection limit, login advice).",
    ),
    click.option(
        "--password-file",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        help=f"Read the password from this file (else ${PASSWORD_ENV}, else a prompt).",
    ),
    click.option("--connections", type=int, help="Connections at once (default: [imap] connections)."),
]


def connection_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options that name a mailbox and how to reach it (shared with `accounts add`)."""
    for option in reversed(_CONNECTION_OPTIONS):
        command = option(command)
    return command


@click.command("imap")
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@pass_state
def import_imap(
    state: State, /, password_file: Path | None, as_json: bool, progress: bool | None, **connection: Any
) -> None:
    """Import every folder of an IMAP mailbox; running it again continues where it stopped."""
    settings = state.settings
    spec = account_spec(settings, **connection)
    password = read_password(password_file, spec.username)
    show = sys.stderr.isatty() if progress is None else progress
    if show:
        logging.getLogger("mailvault.archive.ingest").setLevel(logging.WARNING)
    with parse_pool(settings.ingest.parse_workers) as parse_map, state.archive(parse_map) as archive:
        listener = TerminalProgress(spec.name) if show else LogProgress(spec.name)
        with listener:
            summary = asyncio.run(AccountSync(archive, settings, spec, password, listener).run())
    if as_json:
        print_json(summary.as_dict())
    else:
        print_summary(summary)
    if summary.counts.failed or summary.incomplete:
        sys.exit(2)


def read_password(password_file: Path | None, username: str) -> str:
    """From a file, the environment or a prompt: never from the command line, where `ps` shows it."""
    if password_file is not None:
        try:
            text = password_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the password file {password_file}: {exc.strerror}") from None
        password = text.rstrip("\r\n")
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    elif sys.stdin.isatty():
        password = click.prompt(f"IMAP password for {username}", hide_input=True)
    else:
        raise ConfigError(
            f"no IMAP password: give --password-file, set ${PASSWORD_ENV}, or run on a terminal"
        )
    if not password:
        raise ConfigError("the IMAP password is empty")
    return password


class TerminalProgress:
    """Two bars: secured (downloaded and durable) and archived (recorded, soon searchable)."""

    def __init__(self, account: str) -> None:
        self._bar = Progress(
            TextColumn(f"[bold]{account}"),
            TextColumn("{task.description:<9}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} msgs"),
            TextColumn("{task.fields[size]}"),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self._secured: TaskID | None = None
        self._archived: TaskID | None = None
        self._bytes = 0

    def __enter__(self) -> TerminalProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def planned(self, messages: int) -> None:
        self._secured = self._bar.add_task("secured", total=messages, size="")
        self._archived = self._bar.add_task("archived", total=messages, size="")

    def secured(self, messages: int, size: int) -> None:
        if self._secured is not None:
            self._bytes += size
            self._bar.update(self._secured, advance=messages, size=f"{self._bytes / 1e6:,.1f} MB")

    def archived(self, messages: int) -> None:
        if self._archived is not None:  # rich's Progress takes updates from any thread
            self._bar.update(self._archived, advance=messages)


class LogProgress:
    """Without a terminal: a log line every 30 seconds."""

    EVERY = 30.0

    def __init__(self, account: str) -> None:
        self.account = account
        self.total = self.secured_count = self.archived_count = self.bytes = 0
        self._started = self._last = time.monotonic()

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def planned(self, messages: int) -> None:
        self.total = messages
        log.info("%s: %d messages to import", self.account, messages)

    def secured(self, messages: int, size: int) -> None:
        self.secured_count += messages
        self.bytes += size
        self._report()

    def archived(self, messages: int) -> None:
        self.archived_count += messages  # from the drain thread; a lost increment only skews a log line

    def _report(self) -> None:
        now = time.monotonic()
        if now - self._last >= self.EVERY:
            self._last = now
            rate = self.secured_count / (now - self._started)
            log.info(
                "%s: %d of %d messages secured (%.1f MB, %.0f/s), %d archived",
                self.account,
                self.secured_count,
                self.total,
                self.bytes / 1e6,
                rate,
                self.archived_count,
            )


def print_summary(summary: SyncSummary) -> None:
    counts = summary.counts
    rate = counts.messages / counts.seconds if counts.seconds else 0.0
    click.echo(
        f"{summary.account}: {summary.folders} folders, {counts.messages:,} messages in "
        f"{counts.seconds:.1f}s ({rate:,.0f}/s; all secured after {summary.secured_seconds:.1f}s): "
        f"{counts.new:,} new, "
        f"{counts.copies + counts.duplicates:,} already archived by another route, "
        f"{counts.known:,} imported before; {counts.flagged:,} flagged, {counts.failed:,} failed"
    )
    if summary.moved or summary.deleted:
        click.echo(
            f"since the last sync: {summary.deleted:,} deleted and {summary.moved:,} moved in the mailbox "
            "(archived copies kept; `mailvault report deletions`)"
        )
    for where, reason in counts.failures:
        click.echo(f"  failed: {where}: {reason}", err=True)
    for folder, reason in summary.incomplete:
        click.echo(f"  not synced: {folder}: {reason}", err=True)


@click.group()
def report() -> None:
    """Reports on the archive."""


@report.command("deletions")
@click.option("--owner", help="Only mailboxes of this employee (address).")
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), help="Only noticed since (UTC)."
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_state
def report_deletions(state: State, owner: str | None, since: datetime | None, as_json: bool) -> None:
    """Messages deleted or moved in an imported mailbox; the archived copies stay readable."""
    query = (
        select(Source, Message)
        .join(Message, Message.archive_id == Source.archive_id)
        .where(Source.kind == SourceKind.IMAP.value, Source.vanished_at.is_not(None))
        .order_by(Source.vanished_at, Source.source_id)
    )
    if owner:
        query = query.where(Source.owner == owner.lower())
    if since:
        query = query.where(Source.vanished_at >= since)
    with state.archive() as archive, archive.db.reading() as session:
        rows = [
            {
                "noticed": source.vanished_at.isoformat(timespec="seconds") if source.vanished_at else None,
                "how": source.vanished_how,
                "owner": source.owner,
                "account": source.origin,
                "folder": source.folder,
                "moved_to": source.moved_to,
                "uid": source.uid,
                "archive_id": message.archive_id,
                "date": message.date.isoformat(timespec="seconds") if message.date else None,
                "subject": message.subject,
            }
            for source, message in session.execute(query)
        ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no deletions recorded")
        return
    for row in rows:
        where = f"{row['folder']} → {row['moved_to']}" if row["how"] == "moved" else row["folder"]
        click.echo(
            f"{row['noticed']}  {row['how']:<10} {row['owner'] or '-'}  {where}  "
            f"#{row['archive_id']} {row['date'] or '-'}  {row['subject']}"
        )
