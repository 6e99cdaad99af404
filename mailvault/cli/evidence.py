"""`mailvault evidence build|verify`: evidence packages for lawyers and courts (mailvault.evidence)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from mailvault.archive.store import Archive
from mailvault.cli.context import State, pass_state, print_json
from mailvault.cli.messages import login_name
from mailvault.errors import MailvaultError, SearchIndexError
from mailvault.evidence.checker import check, parse_head
from mailvault.evidence.online import check_against_archive
from mailvault.evidence.package import build_package
from mailvault.evidence.report import Report
from mailvault.index import manage
from mailvault.index.engine import Sort
from mailvault.index.query import parse

_PAGE = 1000


@click.group()
def evidence() -> None:
    """Evidence packages: messages as .eml, a report (HTML, PDF), a manifest tied to the ledger."""


@evidence.command("build")
@click.option("--ids", help="Archive ids of the messages, comma-separated: 1,2,3.")
@click.option("--query", help="Every message this search finds (the query language of `mailvault search`).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The package to write (.zip).",
)
@click.option("--title", required=True, help="Title of the report, e.g. 'Handover of zhang.wei, case 17'.")
@click.option("--employee", help="The employee the package is about, shown in the report and manifest.")
@click.option("--language", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--built-by", help="Who builds the package (default: login name@host).")
@pass_state
def build(
    state: State,
    ids: str | None,
    query: str | None,
    out: Path,
    title: str,
    employee: str | None,
    language: str,
    built_by: str | None,
) -> None:
    """Build an evidence package of the messages chosen by --ids or --query.

    Check it later, with or without mailvault: `python3 verify_evidence.py FILE` (inside the zip)
    or `mailvault evidence verify FILE`.
    """
    if (ids is None) == (query is None):
        raise click.UsageError("choose the messages with one of --ids and --query")
    wanted = _parse_ids(ids) if ids is not None else []
    if query is not None:
        parse(query)  # a query that cannot be understood fails before anything is opened
    who = built_by or login_name()
    with state.archive() as archive:
        if query is not None:
            wanted = _search(state, archive, query)
        report = Report(
            title=title,
            employee=employee,
            generated_by=who,
            generated_at=datetime.now(UTC).replace(microsecond=0),
            language="en" if language == "en" else "zh",
            summary=[("Query" if language == "en" else "检索条件", query)] if query else [],
            time_zone=state.settings.web.time_zone,
            verify_command=f"python3 verify_evidence.py {out.name} --head SEQ:HASH",
        )
        result = build_package(archive, wanted, report, out, built_by=who, query=query or "")
    click.echo(
        f"wrote {out}: {result.count} message(s), ledger head #{result.ledger_head.seq}, "
        f"SHA-256 {result.sha256}",
        err=True,
    )


@evidence.command("verify")
@click.argument("package", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--head", "head_text", metavar="SEQ:HASH", help="A ledger checkpoint kept elsewhere to compare with."
)
@click.option(
    "--against-archive",
    is_flag=True,
    help="Also confirm each ledger entry, and the chain up to the package's head, in this archive's ledger.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@pass_state
def verify(state: State, package: Path, head_text: str | None, against_archive: bool, as_json: bool) -> None:
    """Check an evidence package: files, SHA-256 sums, ledger entries (exit 1 on any problem).

    Needs no archive unless --against-archive is given; the same check as the package's own
    verify_evidence.py.
    """
    checkpoint = None
    if head_text is not None:
        try:
            checkpoint = parse_head(head_text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--head") from None
    if against_archive:
        outcome = check(str(package))
        with state.archive() as archive:
            check_against_archive(archive, outcome, checkpoint)
    else:
        outcome = check(str(package), checkpoint)
    if as_json:
        print_json(
            {
                "file": str(package),
                "ok": outcome.ok,
                "messages": outcome.messages,
                "files": outcome.files,
                "problems": outcome.problems,
                "head": outcome.head_note,
            }
        )
    else:
        for line in outcome.lines():
            click.echo(line)
    if not outcome.ok:
        sys.exit(1)


def _parse_ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a list of archive ids like 1,2,3", param_hint="--ids"
        ) from None
    if not ids:
        raise click.BadParameter("no archive id given", param_hint="--ids")
    return ids


def _search(state: State, archive: Archive, query: str) -> list[int]:
    """Archive ids of every message the query finds, oldest archived first."""
    try:
        manage.update(state.settings, archive, wait=False)
    except SearchIndexError as exc:
        if "another mailvault indexer" not in str(exc):
            raise
    engine = manage.open_for_search(state.settings)
    found: list[int] = []
    try:
        tree = parse(query)
        while True:
            page = engine.search(tree, sort=Sort.DATE, offset=len(found), limit=_PAGE)
            found.extend(hit.archive_id for hit in page.hits)
            if not page.hits or len(found) >= page.total:
                break
    finally:
        engine.close()
    if not found:
        raise MailvaultError(f"the search {query!r} finds no message; nothing to package")
    return sorted(set(found))
