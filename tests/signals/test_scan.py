"""Scanning is incremental and idempotent; dismissing is audited and final."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from mailvault.access.models import AuditEvent
from mailvault.archive.arrival import utcnow
from mailvault.archive.models import Message
from mailvault.archive.store import Archive
from mailvault.signals import store
from mailvault.signals.models import DetectorProgress
from mailvault.signals.scan import scan
from mailvault.signals.store import SignalError
from tests.signals.build import LI, ZHANG, at, mail, scan_all, signals


def _risky(archive: Archive) -> list[int]:
    return [
        mail(archive, sender=ZHANG, to="zw8888@163.com", subject="Fwd: 报价单", date=at(1)),
        mail(archive, sender=LI, to="lina.home@qq.com", subject="FW: 客户名单", date=at(2)),
    ]


def _positions(archive: Archive) -> dict[str, int]:
    with archive.db.reading() as session:
        return {p.detector: p.position for p in session.scalars(select(DetectorProgress))}


def test_rescan_adds_nothing_and_positions_move(archive: Archive) -> None:
    ids = _risky(archive)
    first = scan_all(archive)
    again = scan_all(archive)
    with archive.db.writing() as session:  # forget every position: a replay after losing them
        session.execute(delete(DetectorProgress))
    replay = scan_all(archive)

    assert (first.total, again.total, replay.total) == (2, 0, 0)
    assert len(signals(archive)) == 2
    assert first.examined["forward_to_personal"] == 2
    assert "forward_to_personal" not in again.examined
    assert _positions(archive)["forward_to_personal"] == max(ids)


def test_position_stays_below_messages_that_may_still_be_committing(archive: Archive) -> None:
    ids = _risky(archive)
    with archive.db.writing() as session:  # the lower id is young, the higher one settled
        session.execute(update(Message).where(Message.archive_id == ids[0]).values(archived_at=utcnow()))
        session.execute(
            update(Message)
            .where(Message.archive_id == ids[1])
            .values(archived_at=utcnow() - timedelta(hours=1))
        )

    result = scan(archive, archive.settings, settle=timedelta(minutes=10))
    again = scan(archive, archive.settings, settle=timedelta(minutes=10))

    assert result.total == 2, "young messages are examined at once"
    assert _positions(archive)["forward_to_personal"] == ids[0] - 1, "and again next time"
    assert again.examined["forward_to_personal"] == 2
    assert again.total == 0


def test_dismiss_hides_audits_and_is_never_raised_again(archive: Archive) -> None:
    _risky(archive)
    scan_all(archive)
    target, other = store.list_signals(archive.db, kind="forward_to_personal")[::-1]

    dismissed = store.dismiss(
        archive.db, target.signal_id, "cli:root", "  his own\nsecond mailbox ", address="10.0.0.5"
    )

    assert (dismissed.dismissed_by, dismissed.dismiss_reason) == ("cli:root", "his own second mailbox")
    assert [s.signal_id for s in store.list_signals(archive.db)] == [other.signal_id]
    assert {s.signal_id for s in store.list_signals(archive.db, include_dismissed=True)} == {
        target.signal_id,
        other.signal_id,
    }
    with archive.db.reading() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "dismiss-signal")).all()
        assert (event.username, event.target, event.address) == (
            "cli:root",
            f"signal {target.signal_id}",
            "10.0.0.5",
        )
        assert event.detail["reason"] == "his own second mailbox"

    with archive.db.writing() as session:
        session.execute(delete(DetectorProgress))
    assert scan_all(archive).total == 0
    assert store.get_signal(archive.db, target.signal_id).dismissed

    with pytest.raises(SignalError, match="dismissed already"):
        store.dismiss(archive.db, target.signal_id, "cli:root", "again")
    with pytest.raises(SignalError, match="give a reason"):
        store.dismiss(archive.db, other.signal_id, "cli:root", "  ")
    with pytest.raises(SignalError, match="no risk signal has id 999"):
        store.dismiss(archive.db, 999, "cli:root", "x")


def test_filters(archive: Archive) -> None:
    _risky(archive)
    scan_all(archive)

    assert [s.employee for s in store.list_signals(archive.db, employee=LI.upper())] == [LI]
    assert store.list_signals(archive.db, since=at(1.5).replace(tzinfo=None))[0].employee == LI
    assert store.list_signals(archive.db, kind="mass_deletion") == []
    with pytest.raises(SignalError, match="no signal kind"):
        store.list_signals(archive.db, kind="nonsense")
