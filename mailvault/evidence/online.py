"""The check only the archive can make: each ledger entry of a package is still in this archive's
ledger, unchanged, and the chain from the oldest of them to the recorded head (and to a checkpoint,
when given) is intact. It closes the link the package alone cannot: entry → chain head."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mailvault.archive.store import Archive
from mailvault.evidence.checker import GENESIS, Outcome, entry_hash
from mailvault.ledger.chain import entries
from mailvault.ledger.models import LedgerEntry

_FIELDS = ("kind", "ref", "at", "prev_hash", "entry_hash", "payload")


def check_against_archive(archive: Archive, outcome: Outcome, checkpoint: tuple[int, str] | None) -> None:
    """Add to `outcome` what differs between its package and this archive's ledger."""
    manifest = outcome.manifest
    if manifest is None:
        return  # the offline check already said why
    try:
        sealed = [m["ledger"] for m in manifest["messages"] if isinstance(m.get("ledger"), dict)]
        head = (int(manifest["ledger_head"]["seq"]), str(manifest["ledger_head"]["entry_hash"]))
    except (KeyError, TypeError, ValueError):
        return
    found_before = len(outcome.problems)
    wanted = {int(entry["seq"]): entry for entry in sealed}
    anchors = {head[0]: head[1]}
    if checkpoint is not None:
        anchors[checkpoint[0]] = checkpoint[1]
    first = min([*wanted, *anchors]) if wanted else head[0]
    last = max(anchors)
    with archive.db.reading() as session:
        stored = {
            row.seq: row
            for row in session.scalars(select(LedgerEntry).where(LedgerEntry.seq.in_(list(wanted))))
        }
    for seq, entry in sorted(wanted.items()):
        _compare(outcome, seq, entry, stored.get(seq))
    _walk(archive, outcome, first, last, anchors, head)
    if len(outcome.problems) == found_before:
        also = f" and checkpoint #{checkpoint[0]}" if checkpoint is not None else ""
        outcome.head_note = (
            f"ledger entries #{first}..#{last} of this archive, the package's head #{head[0]}{also}: "
            "one intact chain"
        )


def _compare(outcome: Outcome, seq: int, entry: dict[str, Any], row: LedgerEntry | None) -> None:
    if row is None:
        outcome.problems.append(f"ledger entry #{seq}: not in this archive's ledger")
        return
    stored = {
        "kind": row.kind,
        "ref": row.ref,
        "at": row.at.isoformat(),
        "prev_hash": row.prev_hash,
        "entry_hash": row.entry_hash,
        "payload": row.payload,
    }
    changed = [name for name in _FIELDS if entry.get(name) != stored[name]]
    if changed:
        outcome.problems.append(
            f"ledger entry #{seq}: differs from this archive's ledger ({', '.join(changed)})"
        )


def _walk(
    archive: Archive,
    outcome: Outcome,
    first: int,
    last: int,
    anchors: dict[int, str],
    head: tuple[int, str],
) -> None:
    """Recompute every entry from `first` to `last` in the archive's ledger and follow the links."""
    prev = GENESIS if first <= 1 else None
    seq = max(first, 1) - 1
    with archive.db.reading() as session:
        while seq < last:
            batch = entries(session, after=seq, limit=min(1000, last - seq))
            if not batch or batch[0].seq != seq + 1:
                outcome.problems.append(f"ledger: entry #{seq + 1} is missing from this archive's ledger")
                return
            for row in batch:
                if row.seq != seq + 1:
                    outcome.problems.append(f"ledger: entry #{seq + 1} is missing from this archive's ledger")
                    return
                if entry_hash(row.seq, row.kind, row.ref, row.prev_hash, row.payload) != row.entry_hash:
                    outcome.problems.append(
                        f"ledger: entry #{row.seq} of this archive no longer matches its hash"
                    )
                if prev is not None and row.prev_hash != prev:
                    outcome.problems.append(f"ledger: entry #{row.seq} does not follow entry #{row.seq - 1}")
                if row.seq in anchors and row.entry_hash != anchors[row.seq]:
                    what = (
                        "the ledger head recorded in the package" if row.seq == head[0] else "the checkpoint"
                    )
                    outcome.problems.append(f"ledger: entry #{row.seq} of this archive differs from {what}")
                prev = row.entry_hash
                seq = row.seq
