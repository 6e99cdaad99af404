"""Everything a handover shows about one employee, gathered once for the page, the command and
the evidence report alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailvault.archive.db import Database
from mailvault.config import Settings
from mailvault.handover.customers import Customer, customers_of
from mailvault.handover.reconcile import Reconciliation, reconcile
from mailvault.handover.workflow import HandoverState, state
from mailvault.signals.personal import known_personal
from mailvault.signals.store import list_signals

SIGNALS_SHOWN = 200  # not dismissed, newest first


@dataclass(slots=True)
class HandoverView:
    state: HandoverState
    reconciliation: Reconciliation
    customers: list[Customer]
    signals: list[dict[str, Any]] = field(default_factory=list)
    personal_addresses: list[str] = field(default_factory=list)  # their own, private: not customers

    @property
    def open_threads(self) -> int:
        return sum(len(c.open_threads) for c in self.customers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "handover": self.state.as_dict(),
            "reconciliation": self.reconciliation.as_dict(),
            "customers": [c.as_dict() for c in self.customers],
            "signals": self.signals,
            "personal_addresses": self.personal_addresses,
        }


def gather(db: Database, settings: Settings, employee: str) -> HandoverView:
    current = state(db, employee)
    with db.reading() as session:
        found = reconcile(session, current.employee)
        personal = sorted(a for a, e in known_personal(session).items() if e == current.employee)
        customers = customers_of(
            session,
            current.employee,
            settings.archive.company_domains,
            settings.signals.free_mail_domains,
            personal=personal,
        )
    signals = [s.as_dict() for s in list_signals(db, employee=current.employee, limit=SIGNALS_SHOWN)]
    return HandoverView(current, found, customers, signals, personal)
