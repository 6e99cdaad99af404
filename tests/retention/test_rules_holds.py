"""Retention rules and legal holds: who may change them, what is recorded, and that nothing is
ever deleted by disabling a rule or releasing a hold."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from mailvault.access.models import AuditEvent
from mailvault.access.users import set_disabled
from mailvault.archive.store import Archive
from mailvault.ledger.chain import EntryKind
from mailvault.ledger.models import LedgerEntry
from mailvault.retention import RetentionDenied, RetentionError
from mailvault.retention.holds import list_holds, place_hold, release_hold
from mailvault.retention.models import LegalHold, RetentionRule
from mailvault.retention.rules import add_rule, disable_rule, list_rules
from tests.retention.conftest import ADMIN, AUDITOR, EMPLOYEE, LI_NA

pytestmark = pytest.mark.usefixtures("people")


def ledger(archive: Archive, kind: EntryKind) -> dict[str, dict[str, object]]:
    with archive.db.reading() as session:
        rows = session.execute(
            select(LedgerEntry.ref, LedgerEntry.payload).where(LedgerEntry.kind == kind.value)
        )
        return {ref: json.loads(payload) for ref, payload in rows}


def audit_events(archive: Archive, action: str) -> list[AuditEvent]:
    with archive.db.reading() as session:
        found = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        session.expunge_all()
        return found


def test_rule_added_and_disabled_is_recorded_and_kept(archive: Archive) -> None:
    rule = add_rule(
        archive.db, "customers 3y", 1095, domain="@Kunde.DE", owner=" Li.Na@Huaqiang-Elec.com.cn", by="ADA"
    )
    assert (rule.domain, rule.owner, rule.created_by, rule.active) == ("kunde.de", LI_NA, ADMIN, True)

    disabled = disable_rule(archive.db, "customers 3y", by=ADMIN)
    assert not disabled.active
    assert disabled.disabled_by == ADMIN
    with archive.db.reading() as session:
        assert session.scalars(select(RetentionRule.name)).all() == ["customers 3y"], "the row stays"
    assert [r.name for r in list_rules(archive.db)] == ["customers 3y"]
    assert list_rules(archive.db, include_disabled=False) == []

    sealed = ledger(archive, EntryKind.RETENTION)
    assert set(sealed) == {f"{rule.rule_id}:added", f"{rule.rule_id}:disabled"}
    assert sealed[f"{rule.rule_id}:added"]["keep_days"] == 1095
    assert sealed[f"{rule.rule_id}:added"]["disabled_at"] is None
    assert sealed[f"{rule.rule_id}:disabled"]["disabled_by"] == ADMIN
    events = audit_events(archive, "retention-change")
    assert [(e.username, e.outcome) for e in events] == [(ADMIN, "ok"), (ADMIN, "ok")]
    assert "kunde.de" in events[0].target

    with pytest.raises(RetentionError, match="disabled already"):
        disable_rule(archive.db, "customers 3y", by=ADMIN)
    with pytest.raises(RetentionError, match="exists already"):
        add_rule(archive.db, "customers 3y", 30, by=ADMIN)


@pytest.mark.parametrize("who", [AUDITOR, EMPLOYEE, "nobody"])
def test_only_an_admin_changes_rules(archive: Archive, who: str) -> None:
    with pytest.raises(RetentionDenied, match=r"only admin may add a retention rule|not an enabled"):
        add_rule(archive.db, "all", 30, by=who)
    assert list_rules(archive.db) == []
    assert ledger(archive, EntryKind.RETENTION) == {}
    denied = audit_events(archive, "retention-change")
    assert [(e.username, e.outcome) for e in denied] == [(who, "denied")]


def test_a_disabled_admin_is_refused(archive: Archive) -> None:
    set_disabled(archive.db, ADMIN, True)
    with pytest.raises(RetentionDenied, match="not an enabled mailvault user"):
        add_rule(archive.db, "all", 30, by=ADMIN)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keep_days": 0}, "keep_days must be from 1"),
        ({"keep_days": 365, "domain": "not a domain"}, "not a domain"),
        ({"keep_days": 365, "owner": "li.na"}, "not a mail address"),
        ({"keep_days": 365, "name": "two\nlines"}, "cannot be a name"),
    ],
)
def test_bad_rules_are_refused(archive: Archive, kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"name": "r", **kwargs}
    with pytest.raises(RetentionError, match=message):
        add_rule(archive.db, by=ADMIN, **arguments)  # type: ignore[arg-type]
    assert list_rules(archive.db) == []


def test_hold_placed_and_released_is_recorded_and_kept(archive: Archive) -> None:
    hold = place_hold(
        archive.db,
        "case 17",
        query="subject:invoice",
        customer="Kunde.de",
        reason="lawsuit 17/2025",
        by=AUDITOR,
    )
    assert (hold.customer, hold.owner, hold.created_by, hold.active) == ("kunde.de", None, AUDITOR, True)
    released = release_hold(archive.db, "case 17", by=ADMIN)
    assert (released.active, released.released_by) == (False, ADMIN)
    with archive.db.reading() as session:
        assert session.scalars(select(LegalHold.reason)).all() == ["lawsuit 17/2025"], "the row stays"
    assert [h.name for h in list_holds(archive.db)] == ["case 17"]
    assert list_holds(archive.db, include_released=False) == []

    sealed = ledger(archive, EntryKind.HOLD)
    assert set(sealed) == {f"{hold.hold_id}:placed", f"{hold.hold_id}:released"}
    assert sealed[f"{hold.hold_id}:placed"]["query"] == "subject:invoice"
    assert sealed[f"{hold.hold_id}:released"]["released_by"] == ADMIN
    events = audit_events(archive, "hold-change")
    assert [(e.username, e.query) for e in events] == [
        (AUDITOR, "subject:invoice"),
        (ADMIN, "subject:invoice"),
    ]
    with pytest.raises(RetentionError, match="released already"):
        release_hold(archive.db, "case 17", by=ADMIN)


def test_an_employee_cannot_place_or_release_holds(archive: Archive) -> None:
    with pytest.raises(RetentionDenied, match="only admin or auditor may place a legal hold"):
        place_hold(archive.db, "mine", owner=LI_NA, by=EMPLOYEE)
    place_hold(archive.db, "theirs", owner=LI_NA, by=ADMIN)
    with pytest.raises(RetentionDenied, match="only admin or auditor may release"):
        release_hold(archive.db, "theirs", by=EMPLOYEE)
    assert [h.active for h in list_holds(archive.db)] == [True]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs a query, an owner or a customer"),
        ({"query": "after:2025-13-01"}, "the hold's query cannot be used"),
        ({"owner": "kunde.de"}, "not a mail address"),
        ({"customer": "kunde"}, "not a domain"),
    ],
)
def test_bad_holds_are_refused(archive: Archive, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(RetentionError, match=message):
        place_hold(archive.db, "h", by=ADMIN, **kwargs)
    assert list_holds(archive.db) == []
