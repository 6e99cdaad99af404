"""`mailvault show|export|verify|status`: get messages back and prove the archive is intact
(every stored blob, and the ledger that seals every arrival and audit event)."""

from __future__ import annotations

import getpass
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import func, select

from mailvault.archive import lookup
from mailvault.archive.bundle import SUMS_NAME, verify_zip, write_mbox_zip, write_zip
from mailvault.archive.export import write_mbox
from mailvault.archive.migrate import current_revision
from mailvault.archive.models import Blob, Message, Source
from mailvault.archive.store import Archive
from mailvault.archive.verify import count_blobs
from mailvault.archive.verify import verify as verify_archive
from mailvault.cli.context import State, pass_state, print_json
from mailvault.durable import describe_write_error
from mailvault.errors import MailvaultError
from mailvault.journal.state import segment_bytes
from mailvault.ledger import chain
from mailvault.ledger.verify import Checkpoint, Problem, parse_checkpoint, verify_ledger
from mailvault.ledger.verify import Finding as LedgerFinding
from mailvault.mime import parse_message


@click.command()
@click.argument("message")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON (with the body text).")
@pass_state
def show(state: State, message: str, as_json: bool) -> None:
    """Show a message: headers, text, attachments and every arrival.

    MESSAGE is an archive id, a SHA-256 (or a unique prefix), or a Message-ID.
    """
    with state.archive() as archive:
        ref = lookup.resolve(archive.db, message)
        record = lookup.load(archive.db, ref.archive_id)
        parsed = parse_message(archive.blobs.get(ref.sha256))
    data = record.as_dict()
    data["shown_copy"] = ref.sha256
    data["text"] = parsed.text
    if as_json:
        print_json(data)
        return
    out = [f"Message {data['archive_id']}   copy {ref.sha256}"]
    out.append(f"Date:        {data['date'] or '(none)'}")
    for role in ("from", "sender", "reply_to", "to", "cc", "bcc", "envelope_from", "envelope_to"):
        people = [p for p in data["participants"] if p["role"] == role]
        if people:
            shown = ", ".join(f"{p['name']} <{p['address']}>" if p["name"] else p["address"] for p in people)
            out.append(f"{role.replace('_', '-').capitalize() + ':':<12} {shown}")
    out.append(f"Subject:     {data['subject']}")
    out.append(f"Message-ID:  {data['message_id'] or '(none)'}")
    out.append(f"Direction:   {data['direction']}    parse status: {data['parse_status']}")
    for problem in data["parse_problems"]:
        out.append(f"  problem:   {problem}")
    if data["attachments"]:
        out.append(f"Attachments ({data['attachment_count']}):")
        for a in data["attachments"]:
            kind = f" [{a['encoding']}]" if a["encoding"] != "mime" else ""
            inline = " inline" if a["inline"] else ""
            out.append(
                f"  {a['filename'] or '(no name)'}  {a['content_type']}  {a['size']:,} bytes{inline}{kind}"
            )
    out.append(f"Arrivals ({len(data['sources'])}):")
    for s in data["sources"]:
        where = s["origin"] + (f" [{s['folder']}]" if s["folder"] else "")
        owner = f" owner={s['owner']}" if s["owner"] else ""
        out.append(f"  {s['arrived_at']} {s['kind']} {where}{owner}")
    if len(data["copies"]) > 1:
        out.append(f"Stored copies: {', '.join(c['sha256'][:16] for c in data['copies'])}")
    out.append("")
    out.append(parsed.text)
    click.echo("\n".join(out))


@click.command()
@click.argument("messages", nargs=-1, required=True)
@click.option(
    "--mbox",
    "mbox_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append the messages to this mbox file (mboxrd: body lines starting 'From ' get '>').",
)
@click.option(
    "--dir",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write each message to DIR/<sha256>.eml, byte for byte.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the one message to this file instead of standard output.",
)
@click.option(
    "--zip",
    "zip_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write an evidence zip: each message as messages/<id>-<hash>.eml byte for byte, "
    "manifest.json and SHA256SUMS (check it with `sha256sum -c SHA256SUMS` once unzipped).",
)
@click.option(
    "--zip-mbox",
    "zip_mbox_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write an evidence zip holding one messages.mbox (mboxrd), manifest.json and SHA256SUMS.",
)
@click.option("--title", help="Title recorded in the zip's manifest.json (default: what was exported).")
@click.option(
    "--exported-by",
    help="Who made the export, recorded in the zip's manifest.json (default: login name@host).",
)
@pass_state
def export(
    state: State,
    messages: tuple[str, ...],
    mbox_file: Path | None,
    out_dir: Path | None,
    output: Path | None,
    zip_file: Path | None,
    zip_mbox_file: Path | None,
    title: str | None,
    exported_by: str | None,
) -> None:
    """Export the exact original bytes of archived messages.

    One MESSAGE goes to standard output unless an option names a file or folder; several need
    --mbox, --dir, --zip or --zip-mbox. Every export is exactly the bytes received (--mbox adds only
    the mbox framing). --zip and --zip-mbox replace FILE and can serve as evidence: check one
    later with `mailvault verify --export FILE`, or with standard tools alone.
    """
    zip_path = zip_file or zip_mbox_file
    if sum(x is not None for x in (mbox_file, out_dir, output, zip_file, zip_mbox_file)) > 1:
        raise click.UsageError("choose one of --mbox, --dir, -o, --zip and --zip-mbox")
    if len(messages) > 1 and mbox_file is None and out_dir is None and zip_path is None:
        raise click.UsageError("several messages need --mbox FILE, --dir DIR, --zip FILE or --zip-mbox FILE")
    if zip_path is None and (title is not None or exported_by is not None):
        raise click.UsageError("--title and --exported-by describe a --zip or --zip-mbox export")
    with state.archive() as archive:
        refs = [lookup.resolve(archive.db, m) for m in messages]
        if zip_path is not None:
            count = _write_zip(
                zip_path,
                archive,
                [r.archive_id for r in refs],
                mbox=zip_mbox_file is not None,
                title=title or f"mailvault export of {len(refs)} message(s)",
                exported_by=exported_by or login_name(),
                query=" ".join(messages),
            )
            click.echo(f"exported {count} message(s) to {zip_path} (manifest: {SUMS_NAME})", err=True)
            return
        if mbox_file is not None:
            with mbox_file.open("ab") as handle:
                write_mbox(handle, ((archive.blobs.get(r.sha256), r) for r in refs))
        elif out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            for ref in refs:
                (out_dir / f"{ref.sha256}.eml").write_bytes(archive.blobs.get(ref.sha256))
        elif output is not None:
            output.write_bytes(archive.blobs.get(refs[0].sha256))
        else:
            sys.stdout.buffer.write(archive.blobs.get(refs[0].sha256))
            sys.stdout.buffer.flush()
    if mbox_file is not None or out_dir is not None:
        click.echo(f"exported {len(refs)} message(s) to {mbox_file or out_dir}", err=True)


def _write_zip(path: Path, archive: Archive, archive_ids: list[int], *, mbox: bool, **about: str) -> int:
    """Write beside `path` and rename: a failed export never leaves a zip that looks complete."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as handle:
            if mbox:
                manifest = write_mbox_zip(handle, archive, archive_ids, **about)
            else:
                manifest = write_zip(handle, archive, archive_ids, **about)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise MailvaultError(describe_write_error(exc, f"write {path.name}", path.parent)) from exc
        raise
    return manifest.count


def login_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: a bare container
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@click.option(
    "--export",
    "export_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Check a zip made by `export --zip/--zip-mbox` against its SHA256SUMS and manifest.json "
    "instead (needs no archive).",
)
@click.option(
    "--checkpoint",
    "checkpoint_args",
    multiple=True,
    metavar="SEQ:HASH|FILE",
    help="A checkpoint kept outside (`mailvault ledger checkpoint`): the chain must still have HASH "
    "at entry SEQ. A FILE holding checkpoint texts (or mails) checks each. Repeatable.",
)
@pass_state
def verify(
    state: State,
    as_json: bool,
    progress: bool | None,
    export_file: Path | None,
    checkpoint_args: tuple[str, ...],
) -> None:
    """Re-hash every stored message and re-check the ledger (exit 1 if anything is wrong).

    The ledger check walks the hash chain, compares every sealed arrival, message and audit event
    with the database, and lists rows the ledger does not know; it names the first broken link.
    """
    if export_file is not None:
        _verify_export(export_file, as_json)
        return
    given = [c for arg in checkpoint_args for c in _checkpoints(arg)]
    show_progress = sys.stderr.isatty() if progress is None else progress
    started = time.monotonic()
    with state.archive() as archive:
        total = count_blobs(archive.db)
        bar = Progress(
            TextColumn("[bold]verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            disable=not show_progress,
        )
        with bar:
            task = bar.add_task("verify", total=total)
            report = verify_archive(archive.db, archive.blobs, on_checked=lambda n: bar.advance(task, n))
            with archive.db.reading() as session:
                entries = chain.head(session).seq
            chain_task = bar.add_task("ledger", total=entries)
            ledger = verify_ledger(
                archive.db, checkpoints=given, on_checked=lambda n: bar.advance(chain_task, n)
            )
    seconds = time.monotonic() - started
    ok = report.ok and ledger.ok
    first = ledger.first_broken
    if as_json:
        print_json(
            {
                "checked": report.checked,
                "ok": ok,
                "seconds": round(seconds, 3),
                "findings": [
                    {"sha256": f.sha256, "problem": f.problem.value, "detail": f.detail}
                    for f in report.findings
                ],
                "ledger": {
                    "ok": ledger.ok,
                    "entries": ledger.entries,
                    "head": {"seq": ledger.head.seq, "entry_hash": ledger.head.entry_hash},
                    "checkpoints": ledger.checkpoints,
                    "first_broken": _finding_json(first) if first else None,
                    "findings": [_finding_json(f) for f in ledger.findings],
                    "omitted": {p.value: n for p, n in ledger.omitted.items()},
                },
            }
        )
    else:
        for finding in report.findings:
            click.echo(f"{finding.problem.value}: {finding.sha256}: {finding.detail}")
        for item in ledger.findings:
            mark = " -- FIRST BROKEN LINK" if item is first else ""
            click.echo(f"ledger {item.problem.value}: {item.text}{mark}")
        for problem, more in ledger.omitted.items():
            click.echo(f"ledger {problem.value}: … and {more:,} more")
        if ledger.omitted.get(Problem.UNSEALED):
            click.echo("(an archive upgraded to schema 0005 is sealed once with `mailvault ledger seal`)")
        if first is not None:
            click.echo(f"first broken link: ledger entry {first.seq}: {first.text}")
        checked = f", {ledger.checkpoints} checkpoint(s)" if ledger.checkpoints else ""
        verdict = "intact" if ok else "PROBLEMS FOUND"
        click.echo(
            f"checked {report.checked:,} stored messages and {ledger.entries:,} ledger entries "
            f"(head {ledger.head.seq}:{ledger.head.entry_hash}{checked}) in {seconds:.1f}s: {verdict}"
        )
    if not ok:
        sys.exit(1)


def _checkpoints(arg: str) -> list[Checkpoint]:
    """SEQ:HASH, or a file with checkpoint texts (or mails) in it."""
    path = Path(arg)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise MailvaultError(f"--checkpoint {arg}: cannot read the file ({exc.strerror})") from exc
        return parse_checkpoint(text, label=path.name)
    try:
        return parse_checkpoint(arg)
    except MailvaultError:
        raise MailvaultError(
            f"--checkpoint {arg}: neither SEQ:HASH (a number, a colon, 64 hex digits) nor a checkpoint file"
        ) from None


def _finding_json(finding: LedgerFinding) -> dict[str, Any]:
    return {"problem": finding.problem.value, "seq": finding.seq, "text": finding.text}


def _verify_export(path: Path, as_json: bool) -> None:
    problems = verify_zip(path)
    if as_json:
        print_json({"file": str(path), "ok": not problems, "problems": problems})
    else:
        for problem in problems:
            click.echo(problem)
        click.echo(f"{path}: {'PROBLEMS FOUND' if problems else 'intact'}")
    if problems:
        sys.exit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_state
def status(state: State, as_json: bool) -> None:
    """What the archive holds and where it lives."""
    settings = state.settings
    with state.archive() as archive, archive.db.reading() as session:
        messages = int(session.scalar(select(func.count()).select_from(Message)) or 0)
        flagged = int(session.scalar(select(func.count()).where(Message.parse_status != "ok")) or 0)
        copies, raw, stored = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(Blob.size), 0),
                func.coalesce(func.sum(Blob.stored_size), 0),
            )
        ).one()
        by_kind = dict(
            session.execute(select(Source.kind, func.count()).group_by(Source.kind)).tuples().all()
        )
        revision = current_revision(archive.db)
        journals = {
            "smtp": segment_bytes(settings.resolved_spool_dir),
            "imap": segment_bytes(settings.resolved_imap_journal_dir),
        }
        data = {
            "database": archive.db.safe_url,
            "schema_revision": revision,
            "blob_store": str(settings.archive.resolved_blob_dir.absolute()),
            "messages": messages,
            "flagged": flagged,
            "stored_copies": int(copies),
            "arrivals": by_kind,
            "raw_bytes": int(raw),
            "stored_bytes": int(stored),
            "journal_bytes": journals,
        }
    if as_json:
        print_json(data)
        return
    ratio = f" ({int(stored) / int(raw):.2f} of raw)" if raw else ""
    click.echo(f"database:    {data['database']} (schema {revision})")
    click.echo(f"blob store:  {data['blob_store']}")
    click.echo(f"messages:    {messages:,} ({flagged:,} flagged), {int(copies):,} stored copies")
    click.echo("arrivals:    " + (", ".join(f"{k} {v:,}" for k, v in sorted(by_kind.items())) or "none"))
    click.echo(f"size:        {int(raw):,} bytes received, {int(stored):,} stored{ratio}")
    click.echo(
        f"journals:    gateway {journals['smtp']:,} bytes, IMAP import {journals['imap']:,} bytes "
        "(secured mail waiting to be archived)"
    )
