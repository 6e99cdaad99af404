"""`mailvault import mbox|maildir|eml`: archive mail files from disk."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from mailvault.archive.parsing import parse_pool
from mailvault.cli.context import State, pass_state, print_json
from mailvault.fileimport.eml import EmlReader
from mailvault.fileimport.maildir import MaildirReader, is_maildir
from mailvault.fileimport.mbox import MboxReader
from mailvault.fileimport.reader import Reader
from mailvault.fileimport.runner import ImportSummary, run_import

ReaderFactory = Callable[[list[Path], str | None, int], Sequence[Reader]]

_common = [
    click.option("--owner", help="Whose mailbox this was (an address); recorded with each message."),
    click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
    click.option(
        "--progress/--no-progress",
        default=None,
        help="Show a progress bar (default: when stderr is a terminal).",
    ),
]


def _with_common(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_common):
        command = option(command)
    return command


@click.group("import")
def import_() -> None:
    """Archive mail from files or an IMAP mailbox. Re-running an import adds nothing twice."""


@import_.command("mbox")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@_with_common
@pass_state
def import_mbox(
    state: State, files: tuple[Path, ...], owner: str | None, as_json: bool, progress: bool | None
) -> None:
    """Import every message of one or more mbox FILES."""
    _run(
        state,
        lambda paths, o, limit: [MboxReader(p, owner=o, max_message_size=limit) for p in paths],
        list(files),
        owner,
        as_json,
        progress,
    )


@import_.command("maildir")
@click.argument(
    "dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@_with_common
@pass_state
def import_maildir(
    state: State, dirs: tuple[Path, ...], owner: str | None, as_json: bool, progress: bool | None
) -> None:
    """Import Maildir folders (with their Maildir++ sub-folders such as .Sent)."""
    for directory in dirs:
        if not is_maildir(directory) and not any(
            is_maildir(c) for c in directory.iterdir() if c.name.startswith(".")
        ):
            raise click.BadParameter(f"{directory} is not a Maildir (no cur/ or new/ inside)")
    _run(
        state,
        lambda paths, o, limit: [MaildirReader(p, owner=o, max_message_size=limit) for p in paths],
        list(dirs),
        owner,
        as_json,
        progress,
    )


@import_.command("eml")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_with_common
@pass_state
def import_eml(
    state: State, paths: tuple[Path, ...], owner: str | None, as_json: bool, progress: bool | None
) -> None:
    """Import single-message files, or every message file below folders (recursively)."""
    _run(
        state,
        lambda p, o, limit: [EmlReader(p, owner=o, max_message_size=limit)],
        list(paths),
        owner,
        as_json,
        progress,
    )


def _run(
    state: State,
    make_readers: ReaderFactory,
    paths: list[Path],
    owner: str | None,
    as_json: bool,
    progress: bool | None,
) -> None:
    settings = state.settings
    show_progress = sys.stderr.isatty() if progress is None else progress
    if show_progress:
        # The bar shows what the per-message log lines would; warnings still come through.
        logging.getLogger("mailvault.archive.ingest").setLevel(logging.WARNING)
    readers = make_readers(paths, owner, settings.ingest.max_message_size)
    with (
        parse_pool(settings.ingest.parse_workers) as parse_map,
        state.archive(parse_map) as archive,
    ):
        summary = run_import(
            archive.ingestor,
            readers,
            batch_size=settings.ingest.batch_size,
            show_progress=show_progress,
        )
    if as_json:
        print_json(summary.as_dict())
    else:
        _print_summary(summary)
    if summary.failed:
        sys.exit(2)


def _print_summary(summary: ImportSummary) -> None:
    rate = summary.messages / summary.seconds if summary.seconds else 0.0
    click.echo(
        f"{summary.messages:,} messages in {summary.seconds:.1f}s ({rate:,.0f}/s): "
        f"{summary.new:,} new, {summary.copies:,} copies of archived messages, "
        f"{summary.duplicates:,} duplicates, {summary.known:,} already imported; "
        f"{summary.flagged:,} flagged, {summary.failed:,} failed, {summary.skipped:,} skipped"
    )
    for where, reason in summary.failures:
        click.echo(f"  failed: {where}: {reason}", err=True)
    if summary.flagged:
        click.echo("flagged messages are archived as received; `mailvault show ID` lists the problems")
