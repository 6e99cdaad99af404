"""`mailvault search`, `thread`, `index status|update|optimize` and `reindex`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import func, select

from mailvault.archive import lookup
from mailvault.archive.models import Message
from mailvault.archive.store import Archive
from mailvault.archive.thread_view import thread_of
from mailvault.cli.context import State, pass_state, print_json
from mailvault.errors import SearchIndexError
from mailvault.index import indexer, manage
from mailvault.index.engine import Sort
from mailvault.index.query import parse
from mailvault.index.search import Result
from mailvault.index.search import search as run_search


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("query", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--sort",
    type=click.Choice([s.value for s in Sort]),
    default=Sort.DATE.value,
    show_default=True,
    help="date: newest first; relevance: best match first.",
)
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Results per page."
)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True, help="Which page of results.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@pass_state
def search(state: State, query: tuple[str, ...], sort: str, limit: int, page: int, as_json: bool) -> None:
    """Search the archive. QUERY is the query language of the README ("Search"), e.g.

    mailvault search '深圳华强电子 after:2025-01-01 has:attachment'
    """
    text = " ".join(query)
    parse(text)  # a query that cannot be understood fails before anything is opened
    with state.archive() as archive:
        _bring_up_to_date(state, archive)
        engine = manage.open_for_search(state.settings)
        try:
            found = run_search(archive, engine, text, sort=Sort(sort), offset=(page - 1) * limit, limit=limit)
        finally:
            engine.close()
    if as_json:
        print_json(found.as_dict())
        return
    console = Console(highlight=False, soft_wrap=True)
    first = found.offset + 1
    last = found.offset + len(found.results)
    shown = f"{first}–{last} of {found.total:,}" if found.results else f"none of {found.total:,}"
    console.print(f"[bold]{found.total:,}[/] message(s) match; showing {shown}, by {found.sort}")
    for result in found.results:
        console.print(_describe(result))


def _describe(result: Result) -> str:
    date = result.date.strftime("%Y-%m-%d %H:%M") if result.date else "(no date)"
    clip = " 📎" if result.attachments else ""
    subject = escape(result.subject or "(no subject)")
    line = f"\n[bold cyan]{result.archive_id:>7}[/]  {date}  {escape(result.sender)}{clip}"
    line += f"\n         [bold]{subject}[/]"
    if result.snippet.text:
        line += "\n         " + _marked(result.snippet.text, result.snippet.highlights)
    return line


def _marked(text: str, spans: list[tuple[int, int]]) -> str:
    out, at = [], 0
    for start, end in spans:
        out.append(escape(text[at:start]))
        out.append(f"[reverse]{escape(text[start:end])}[/]")
        at = end
    out.append(escape(text[at:]))
    return "".join(out)


def _bring_up_to_date(state: State, archive: Archive) -> None:
    """Index what is not indexed yet, unless the running service's indexer is doing it."""
    try:
        with _progress_bar("indexing", _waiting(state, archive)) as advance:
            manage.update(state.settings, archive, advance, wait=False)
    except SearchIndexError as exc:
        if "another mailvault indexer" not in str(exc):
            raise


def _waiting(state: State, archive: Archive) -> int:
    return indexer.status(archive, state.settings.resolved_index_dir).waiting


@contextmanager
def _progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    if total < 200 or not sys.stderr.isatty():
        yield lambda count: None
        return
    bar = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(label, total=total)
    with bar:
        yield lambda count: bar.advance(task, count)


@click.group()
def index() -> None:
    """The full-text search index: status, update, optimize."""


@index.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_state
def index_status(state: State, as_json: bool) -> None:
    """Archived vs indexed messages and how far the index is behind."""
    with state.archive() as archive:
        current = indexer.status(archive, state.settings.resolved_index_dir)
    if as_json:
        print_json(current.as_dict())
        return
    lag = f"{current.lag_seconds:.0f} s" if current.lag_seconds is not None else "none"
    click.echo(f"index:    {current.directory or '(not built yet: mailvault index update)'}")
    click.echo(f"engine:   {current.engine or state.settings.index.engine}")
    click.echo(f"archived: {current.archived:,} messages")
    click.echo(f"indexed:  {current.indexed:,} messages")
    click.echo(f"waiting:  {current.waiting:,} messages (behind by {lag})")
    warning = manage.capacity_warning(current.engine or state.settings.index.engine, current.archived)
    if warning:
        click.echo(f"warning:  {warning}")


@index.command("update")
@pass_state
def index_update(state: State) -> None:
    """Index every archived message not indexed yet (creates the index; rebuilds a damaged one)."""
    with state.archive() as archive, _progress_bar("indexing", _waiting(state, archive)) as advance:
        written = manage.update(state.settings, archive, advance)
    click.echo(f"indexed {written:,} message(s)", err=True)


@index.command("optimize")
@pass_state
def index_optimize(state: State) -> None:
    """Merge the index's segments into one (faster searches; takes a while on a large index)."""
    with state.archive() as archive:
        manage.update(state.settings, archive)
    with indexer.writer_lock(state.settings.resolved_index_dir):
        engine = manage.open_for_search(state.settings)
        try:
            engine.optimize()
        finally:
            engine.close()
    click.echo("index optimized", err=True)


@click.command()
@click.option(
    "--engine",
    type=click.Choice(list(indexer.ENGINES)),
    help="Build the new index with this engine (default: [index] engine); set [index] engine too.",
)
@pass_state
def reindex(state: State, engine: str | None) -> None:
    """Rebuild the search index from the archive; searches keep using the old index meanwhile."""
    with state.archive() as archive:
        with archive.db.reading() as session:
            total = session.scalar(select(func.count()).select_from(Message)) or 0
        with _progress_bar("reindexing", total) as advance:
            written = manage.rebuild(state.settings, archive, advance, engine=engine)
    click.echo(f"reindexed {written:,} message(s)", err=True)


@click.command()
@click.argument("message")
@click.option("--json", "as_json", is_flag=True, help="Print the conversation as JSON (a tree).")
@pass_state
def thread(state: State, message: str, as_json: bool) -> None:
    """Show the whole conversation MESSAGE belongs to, as a tree of replies.

    MESSAGE is an archive id, a SHA-256 (or a unique prefix), or a Message-ID.
    """
    with state.archive() as archive:
        ref = lookup.resolve(archive.db, message)
        _bring_up_to_date(state, archive)  # threads are assigned as messages are indexed
        roots = thread_of(archive.db, ref.archive_id)
    if as_json:
        print_json({"archive_id": ref.archive_id, "thread": [root.as_dict() for root in roots]})
        return
    rows = [row for root in roots for row in root.walk()]
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[bold]{len(rows)}[/] message(s) in the conversation of {ref.archive_id}")
    for depth, node in rows:
        date = node.date.strftime("%Y-%m-%d %H:%M") if node.date else "(no date)"
        mark = "[bold]▶[/] " if node.archive_id == ref.archive_id else "  "
        indent = "  " * depth
        console.print(
            f"{mark}{node.archive_id:>7}  {date}  {indent}{escape(node.subject or '(no subject)')}"
            f"  [dim]{escape(node.sender)}[/]"
        )
