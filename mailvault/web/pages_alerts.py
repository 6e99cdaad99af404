"""The risk signals dashboard: what the detectors found (signals/), within what the reader may
see; admins and the managers of an employee dismiss false alarms, with a reason, audited."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from mailvault.access.audit import Action
from mailvault.access.models import UserRole
from mailvault.errors import MailvaultError
from mailvault.signals import store
from mailvault.signals.finding import SignalKind
from mailvault.web import reading
from mailvault.web.context import Forbidden, Viewer, require, state_of, translator, viewer
from mailvault.web.pages import render

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Viewer, Depends(viewer)]
SHOWN = 500


def may_dismiss(who: Viewer, employee: str) -> bool:
    """Admins, and managers who may read the employee's mail; auditors change nothing."""
    return who.may(UserRole.ADMIN) or (who.may(UserRole.MANAGER) and store.covers(who.scope, employee))


@router.get("/alerts")
def alerts_page(
    request: Request,
    who: SignedIn,
    employee: str = "",
    kind: str = "",
    dismissed: str = "",
    error: str = "",
    done: str = "",
) -> Response:
    require(who, UserRole.ADMIN, UserRole.AUDITOR, UserRole.MANAGER)
    state = state_of(request)
    try:
        found = store.list_signals(
            state.archive.db,
            employee=employee or None,
            kind=kind or None,
            include_dismissed=bool(dismissed),
            scope=who.scope,
            limit=SHOWN,
        )
    except MailvaultError as exc:
        found, error = [], str(exc)
    form = {"employee": employee, "kind": kind, "dismissed": dismissed}
    reading.record(
        state,
        who,
        Action.VIEW_SIGNALS,
        query=urlencode({k: v for k, v in form.items() if v}),
        count=len(found),
    )
    return render(
        request,
        "alerts.html",
        who,
        "alerts",
        signals=found,
        kinds=[k.value for k in SignalKind],
        form=form,
        may_dismiss=lambda address: may_dismiss(who, address),
        error=error,
        done=done,
    )


@router.post("/alerts/{signal_id}/dismiss")
def alerts_dismiss(
    request: Request,
    who: SignedIn,
    signal_id: int,
    csrf: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    who.check_csrf(csrf)
    state, t = state_of(request), translator(request)
    try:
        signal = store.get_signal(state.archive.db, signal_id)
        if not may_dismiss(who, signal.employee):
            reading.record(state, who, Action.DENIED, target=f"signal {signal_id}")
            raise Forbidden(f"{who.user.username} may not dismiss signals about {signal.employee}", hide=True)
        store.dismiss(state.archive.db, signal_id, who.user.username, reason, address=who.address)
    except store.SignalError as exc:
        return RedirectResponse("/alerts?" + urlencode({"error": str(exc)}), status_code=303)
    return RedirectResponse("/alerts?" + urlencode({"done": t("Dismissed.")}), status_code=303)
