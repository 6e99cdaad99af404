"""The handover pages: a departing employee's mailboxes secured, reconciled, their customers and
open conversations, a successor named, and the evidence package. Admins hand over anyone; a
manager hands over the employees granted to them; auditors may look and build evidence."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from mailvault.access import users
from mailvault.access.audit import Action
from mailvault.access.models import UserRole
from mailvault.errors import MailvaultError
from mailvault.handover import workflow
from mailvault.handover.evidence import build_handover_package
from mailvault.handover.view import gather
from mailvault.web import reading
from mailvault.web.context import Forbidden, Viewer, WebState, require, state_of, translator, viewer
from mailvault.web.exporting import chunks_of
from mailvault.web.pages import render
from mailvault.web.responses import content_disposition

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Viewer, Depends(viewer)]


def may_hand_over(who: Viewer, employee: str, *, act: bool) -> bool:
    """Admins, and managers granted the employee, act; auditors may only look."""
    if who.may(UserRole.ADMIN) or (not act and who.may(UserRole.AUDITOR)):
        return True
    return who.may(UserRole.MANAGER) and employee.strip().lower() in who.scope.employees


def _check(state: WebState, who: Viewer, employee: str, *, act: bool) -> None:
    if not may_hand_over(who, employee, act=act):
        reading.record(state, who, Action.DENIED, target=f"handover {employee}")
        raise Forbidden(f"{who.user.username} may not hand over {employee}")


def _back(employee: str, **message: str) -> Response:
    path = "/handover/" + quote(employee)
    return RedirectResponse(f"{path}?{urlencode(message)}" if message else path, status_code=303)


@router.get("/handover")
def handovers_page(request: Request, who: SignedIn, error: str = "") -> Response:
    require(who, UserRole.ADMIN, UserRole.AUDITOR, UserRole.MANAGER)
    state = state_of(request)
    rows = [h for h in workflow.handovers(state.archive.db) if may_hand_over(who, h.employee, act=False)]
    return render(request, "handovers.html", who, "handover", handovers=rows, error=error)


@router.post("/handover")
def handover_open(
    request: Request, who: SignedIn, csrf: Annotated[str, Form()], employee: Annotated[str, Form()]
) -> Response:
    who.check_csrf(csrf)
    state = state_of(request)
    _check(state, who, employee, act=True)
    try:
        opened = workflow.open_handover(state.archive.db, employee, by=who.user.username, address=who.address)
    except MailvaultError as exc:
        return RedirectResponse("/handover?" + urlencode({"error": str(exc)}), status_code=303)
    return _back(opened.employee)


@router.get("/handover/{employee}")
def handover_page(
    request: Request, who: SignedIn, employee: str, error: str = "", done: str = ""
) -> Response:
    state = state_of(request)
    _check(state, who, employee, act=False)
    try:
        view = gather(state.archive.db, state.settings, employee)
    except workflow.HandoverError as exc:
        return RedirectResponse("/handover?" + urlencode({"error": str(exc)}), status_code=303)
    reading.record(state, who, Action.HANDOVER, target=view.state.employee, detail={"step": "view"})
    successors = [
        u
        for u in users.list_users(state.archive.db)
        if u.role in (UserRole.MANAGER, UserRole.EMPLOYEE)
        and u.email != view.state.employee
        and not u.disabled
    ]
    return render(
        request,
        "handover.html",
        who,
        "handover",
        view=view,
        may_act=may_hand_over(who, employee, act=True),
        successors=successors,
        error=error,
        done=done,
    )


@router.post("/handover/{employee}")
def handover_change(
    request: Request,
    who: SignedIn,
    employee: str,
    csrf: Annotated[str, Form()],
    operation: Annotated[str, Form()],
    successor: Annotated[str, Form()] = "",
    customer: Annotated[list[str] | None, Form()] = None,
) -> Response:
    who.check_csrf(csrf)
    state, t = state_of(request), translator(request)
    _check(state, who, employee, act=True)
    db, by = state.archive.db, who.user.username
    try:
        if operation == "secure":
            names = workflow.request_secure(db, employee, by=by, address=who.address)
            done = t(
                "Import requested for {accounts}; mailvault serve runs it now.", accounts=", ".join(names)
            )
        elif operation == "successor":
            added = workflow.grant_successor(
                db, employee, successor, customer or [], by=by, address=who.address
            )
            done = t("{user} may now read {count} customers' mail.", user=successor, count=added)
        elif operation == "close":
            workflow.close_handover(db, employee, by=by, address=who.address)
            return RedirectResponse("/handover", status_code=303)
        else:
            raise workflow.HandoverError(f"unknown operation {operation!r}")
    except MailvaultError as exc:
        return _back(employee, error=str(exc))
    return _back(employee, done=done)


@router.post("/handover/{employee}/evidence")
def handover_evidence(
    request: Request,
    who: SignedIn,
    employee: str,
    csrf: Annotated[str, Form()],
    customer: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Step 5: the evidence package of the employee's mail with the chosen customers, streamed
    from an unnamed file (nothing is left behind); the audit record holds its SHA-256."""
    who.check_csrf(csrf)
    state = state_of(request)
    _check(state, who, employee, act=False)
    spool_dir = state.settings.archive.data_dir / "tmp"
    spool_dir.mkdir(parents=True, exist_ok=True)
    handle = tempfile.TemporaryFile(dir=spool_dir, prefix="evidence-")  # noqa: SIM115 (closed by chunks_of)
    try:
        view = gather(state.archive.db, state.settings, employee)
        result = build_handover_package(
            state.archive,
            view,
            customer or [],
            handle,
            built_by=who.user.username,
            address=who.address,
            language="zh" if translator(request).language == "zh" else "en",
            time_zone=state.settings.web.time_zone,
        )
    except MailvaultError as exc:
        handle.close()
        return _back(employee, error=str(exc))
    except BaseException:
        handle.close()
        raise
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = f"evidence-{view.state.employee}-{stamp}.zip"
    headers = {
        "Content-Disposition": content_disposition(name),
        "Content-Length": str(result.size),
        "X-Evidence-SHA256": result.sha256,
    }
    return StreamingResponse(chunks_of(handle), media_type="application/zip", headers=headers)
