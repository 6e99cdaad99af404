"""mass_deletion: many messages deleted or moved in one mailbox within a short time.

The IMAP sync records each location a message vanished from (sources.vanished_at, vanished_how):
`deleted` (gone from the account) and `moved` (found in another folder) count; `renumbered` (the
server changed a folder's UIDVALIDITY: every UID is new, nothing was removed) does not. At least
[signals] mass_deletion_messages distinct messages deleted or moved in one account (its owner,
else the IMAP account name) within [signals] mass_deletion_hours is one signal, linking the
messages; they stay in the archive whatever happened to the mailbox.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailvault.archive.models import Source, VanishedHow
from mailvault.signals.facts import Context
from mailvault.signals.finding import Finding, SignalKind, finding_key
from mailvault.signals.models import RiskSignal
from mailvault.signals.window import Event, bursts, taken_windows

COUNTED = (VanishedHow.DELETED.value, VanishedHow.MOVED.value)


def detect_mass_deletion(
    ctx: Context, session: Session, since: datetime
) -> tuple[list[Finding], datetime | None]:
    """Findings among the locations that vanished after `since`, and the latest vanish time seen."""
    settings = ctx.settings.signals
    span = timedelta(hours=settings.mass_deletion_hours)
    account = func.coalesce(Source.owner, Source.origin)
    counted = (Source.vanished_at > since, Source.vanished_how.in_(COUNTED))
    new = session.execute(
        select(account, func.min(Source.vanished_at), func.max(Source.vanished_at))
        .where(*counted)
        .group_by(account)
        .order_by(account)
    ).all()
    found: list[Finding] = []
    latest: datetime | None = None
    for name, first, last in new:
        if first is None or last is None:
            continue
        latest = last if latest is None else max(latest, last)
        rows = session.execute(
            select(
                Source.source_id, Source.archive_id, Source.vanished_at, Source.vanished_how, Source.folder
            ).where(
                account == name,
                Source.vanished_how.in_(COUNTED),
                Source.vanished_at.between(first - span, last + span),
            )
        ).all()
        how = {r.source_id: (r.vanished_how, r.folder) for r in rows}
        events = [Event(r.vanished_at, r.source_id, r.archive_id) for r in rows]
        employee = name.lower()
        taken = taken_windows(
            session.scalars(
                select(RiskSignal.detail).where(
                    RiskSignal.kind == SignalKind.MASS_DELETION.value, RiskSignal.employee == employee
                )
            )
        )
        for burst in bursts(
            events, threshold=settings.mass_deletion_messages, hours=settings.mass_deletion_hours, taken=taken
        ):
            ids = burst.archive_ids
            kinds = Counter(how[e.ref][0] for e in burst.events)
            folders = sorted({how[e.ref][1] for e in burst.events})
            found.append(
                Finding(
                    kind=SignalKind.MASS_DELETION,
                    employee=employee,
                    finding_key=finding_key(SignalKind.MASS_DELETION, employee, burst.events[0].ref),
                    archive_ids=ids,
                    summary=f"{len(ids)} messages deleted or moved in the mailbox of {employee} "
                    f"within {settings.mass_deletion_hours:g} h",
                    occurred_at=burst.start,
                    detail={
                        "count": len(ids),
                        "deleted": kinds[VanishedHow.DELETED.value],
                        "moved": kinds[VanishedHow.MOVED.value],
                        "folders": folders[:20],
                        **burst.window_detail(),
                    },
                )
            )
    return found, latest
