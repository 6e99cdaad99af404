"""`mailvault ledger head|seal|checkpoint|checkpoints|verify-stamp`: the tamper-evident ledger.
`mailvault verify` (cli/messages.py) checks it; docs/ledger.md explains it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mailvault.access import audit
from mailvault.access.audit import Action
from mailvault.cli.context import State, pass_state, print_json
from mailvault.ledger import chain, checkpoint
from mailvault.ledger.seal import count_unsealed, seal_unsealed


@click.group("ledger")
def ledger() -> None:
    """The hash chain over every arrival and audit event (see docs/ledger.md)."""


@ledger.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_state
def head(state: State, as_json: bool) -> None:
    """Print the chain head as SEQ:HASH (what `verify --checkpoint` takes)."""
    with state.archive() as archive, archive.db.reading() as session:
        current = chain.head(session)
    if as_json:
        print_json({"seq": current.seq, "entry_hash": current.entry_hash})
    else:
        click.echo(f"{current.seq}:{current.entry_hash}")


@ledger.command()
@pass_state
def seal(state: State) -> None:
    """Seal the arrivals and audit events written before the ledger existed.

    Run once after upgrading an archive to schema 0005 (`mailvault db upgrade`); running it again
    does nothing. Until then `mailvault verify` reports those rows as not in the ledger.
    """
    with state.archive() as archive:
        sources, events = count_unsealed(archive.db)
        if sources or events:
            click.echo(f"sealing {sources:,} arrivals and {events:,} audit events …", err=True)
        sealed = seal_unsealed(archive.db)
        with archive.db.reading() as session:
            current = chain.head(session)
    click.echo(f"sealed {sealed:,} rows; the chain head is {current.seq}:{current.entry_hash}")


@ledger.command("checkpoint")
@click.option(
    "--print-only",
    is_flag=True,
    help="Print (and record) the checkpoint, but neither mail nor time-stamp it.",
)
@pass_state
def checkpoint_(state: State, print_only: bool) -> None:
    """Hand the chain head outside: print it, mail it to [ledger] checkpoint_mail_to and have it
    time-stamped by [ledger] tsa_url (RFC 3161) as configured, then record it.

    Keep the printed text: `mailvault verify --checkpoint FILE` checks the archive against it.
    """
    with state.archive() as archive:
        taken = checkpoint.take(
            state.settings, archive.db, created_by=checkpoint.operator(), print_only=print_only
        )
        audit.record(
            archive.db,
            username="cli:" + taken.created_by,
            action=Action.CHECKPOINT,
            address="",
            target=f"checkpoint {taken.checkpoint_id}",
            detail={"seq": taken.head.seq, "entry_hash": taken.head.entry_hash},
        )
    click.echo(taken.text, nl=False)
    done = [f"recorded as checkpoint {taken.checkpoint_id}"]
    if taken.mailed_to:
        done.append(f"mailed to {', '.join(taken.mailed_to)}")
    if taken.stamp is not None:
        done.append(
            f"time-stamped by {taken.tsa_url} (check: mailvault ledger verify-stamp {taken.checkpoint_id})"
        )
    click.echo("; ".join(done), err=True)


@ledger.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_state
def checkpoints(state: State, as_json: bool) -> None:
    """List the checkpoints taken: when, by whom, of which entry, mailed to whom, stamped when."""
    with state.archive() as archive:
        rows = checkpoint.recorded(archive.db)
    listed: list[dict[str, Any]] = [
        {
            "checkpoint_id": row.checkpoint_id,
            "created_at": row.created_at.isoformat(),
            "created_by": row.created_by,
            "seq": row.seq,
            "entry_hash": row.entry_hash,
            "mailed_to": row.mailed_to,
            "tsa_url": row.tsa_url,
            "tsa_time": row.tsa_time.isoformat() if row.tsa_time else None,
        }
        for row in rows
    ]
    if as_json:
        print_json(listed)
        return
    for item in listed:
        extra = []
        if item["mailed_to"]:
            extra.append(f"mailed to {item['mailed_to']}")
        if item["tsa_time"]:
            extra.append(f"stamped {item['tsa_time']} by {item['tsa_url']}")
        click.echo(
            f"{item['checkpoint_id']:>5}  {item['created_at'][:19]}  {item['seq']}:{item['entry_hash']}  "
            f"by {item['created_by']}" + ("  " + "; ".join(extra) if extra else "")
        )
    if not listed:
        click.echo("no checkpoints yet; take one with `mailvault ledger checkpoint`", err=True)


@ledger.command("verify-stamp")
@click.argument("checkpoint_id", type=int)
@click.option(
    "--ca-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The time-stamping authority's CA certificate(s), PEM (default: [ledger] tsa_ca_file).",
)
@pass_state
def verify_stamp(state: State, checkpoint_id: int, ca_file: Path | None) -> None:
    """Check a checkpoint's RFC 3161 time stamp: its signature with `openssl ts -verify` against
    the TSA's CA certificate, and that the chain still holds the stamped hash."""
    with state.archive() as archive:
        verdict = checkpoint.verify_stamp(state.settings, archive.db, checkpoint_id, ca_file)
    click.echo(verdict)
