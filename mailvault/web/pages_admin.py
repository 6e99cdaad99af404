"""Pages for auditors and IT: the audit trail, users and their grants, mailbox imports."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from mailvault.access import audit, users
from mailvault.access.audit import Action, AuditFilter
from mailvault.access.models import GrantKind, UserRole
from mailvault.errors import MailvaultError
from mailvault.imapsync import accounts as registry
from mailvault.imapsync.client import Endpoint
from mailvault.imapsync.secrets import SecretBox
from mailvault.web import reading
from mailvault.web.context import Viewer, require, state_of, translator, viewer
from mailvault.web.pages import render

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Viewer, Depends(viewer)]
AUDIT_PAGE = 50


def audit_filter(user: str, action: str, since: str, until: str, text: str) -> AuditFilter:
    def day(value: str) -> datetime | None:
        try:
            return datetime.strptime(value, "%Y-%m-%d") if value else None
        except ValueError:
            return None

    end = day(until)
    return AuditFilter(user, action, day(since), end + timedelta(days=1) if end else None, text.strip())


@router.get("/audit")
def audit_page(
    request: Request,
    who: SignedIn,
    user: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    text: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    require(who, UserRole.ADMIN, UserRole.AUDITOR)
    state = state_of(request)
    where = audit_filter(user, action, since, until, text)
    total, rows = audit.events(state.archive.db, where, offset=(page - 1) * AUDIT_PAGE, limit=AUDIT_PAGE)
    form = {"user": user, "action": action, "since": since, "until": until, "text": text}
    reading.record(state, who, Action.VIEW_AUDIT, query=urlencode({k: v for k, v in form.items() if v}))

    def page_url(number: int) -> str:
        return "/audit?" + urlencode(form | {"page": str(number)})

    return render(
        request,
        "audit.html",
        who,
        "audit",
        rows=rows,
        total=total,
        form=form,
        actions=[a.value for a in Action],
        page=page,
        pages=max(1, math.ceil(total / AUDIT_PAGE)),
        page_url=page_url,
    )


@router.get("/admin/users")
def users_page(request: Request, who: SignedIn, error: str = "", done: str = "") -> Response:
    require(who, UserRole.ADMIN)
    found = users.list_users(state_of(request).archive.db)
    return render(
        request,
        "users.html",
        who,
        "admin",
        users=found,
        roles=[r.value for r in UserRole],
        error=error,
        done=done,
    )


def _back(path: str, **message: str) -> Response:
    return RedirectResponse(f"{path}?{urlencode(message)}" if message else path, status_code=303)


@router.post("/admin/users")
def users_change(
    request: Request,
    who: SignedIn,
    csrf: Annotated[str, Form()],
    operation: Annotated[str, Form()],
    username: Annotated[str, Form()],
    role: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
) -> Response:
    require(who, UserRole.ADMIN)
    who.check_csrf(csrf)
    state, t = state_of(request), translator(request)
    db = state.archive.db
    try:
        if operation == "add":
            users.add_user(db, username, password, UserRole(role), email=email, display_name=display_name)
            what = f"added user {username} ({role})"
        elif operation in ("disable", "enable"):
            if operation == "disable" and username == who.user.username:
                raise users.UserError("you cannot disable yourself")
            users.set_disabled(db, username, operation == "disable")
            what = f"{operation}d user {username}"
        elif operation in ("grant", "revoke"):
            grant_kind = GrantKind(kind)
            if operation == "grant":
                users.grant(db, username, grant_kind, value, by=who.user.username)
            else:
                users.revoke(db, username, grant_kind, value)
            what = f"{operation} {username} {kind}:{value}"
        else:
            raise users.UserError(f"unknown operation {operation!r}")
    except (MailvaultError, ValueError) as exc:
        return _back("/admin/users", error=str(exc))
    reading.record(state, who, Action.USER_CHANGE, target=what)
    return _back("/admin/users", done=t("Done: {what}", what=what))


@router.get("/admin/accounts")
def accounts_page(request: Request, who: SignedIn, error: str = "", done: str = "") -> Response:
    require(who, UserRole.ADMIN)
    found = registry.listing(state_of(request).archive.db)
    return render(request, "accounts.html", who, "accounts", accounts=found, error=error, done=done)


@router.post("/admin/accounts")
def accounts_change(
    request: Request,
    who: SignedIn,
    csrf: Annotated[str, Form()],
    operation: Annotated[str, Form()],
    username: Annotated[str, Form()] = "",
    owner: Annotated[str, Form()] = "",
    host: Annotated[str, Form()] = "",
    port: Annotated[str, Form()] = "",
    security: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    """Register a mailbox for continuous sync (the password is checked now and stored encrypted),
    or stop syncing one (what was archived from it stays)."""
    require(who, UserRole.ADMIN)
    who.check_csrf(csrf)
    state, t = state_of(request), translator(request)
    settings = state.settings
    try:
        if operation == "add":
            spec = registry.account_spec(
                settings,
                host=host.strip() or None,
                port=int(port) if port.strip() else None,
                security=security or None,
                username=username.strip(),
                owner=owner.strip().lower(),
                provider=None,
                connections=None,
            )
            endpoint = Endpoint(spec.host, spec.port, spec.security, settings.imap.timeout)  # type: ignore[arg-type]
            asyncio.run(registry.check_login(endpoint, spec.username, password))
            box = SecretBox(settings.resolved_imap_key_file, create=True)
            registry.register(state.archive.db, box, spec, password, settings.imap.sync_interval)
            what = f"registered mailbox {spec.name} of {spec.owner}"
        elif operation == "remove":
            registry.unregister(state.archive.db, name)
            what = f"stopped syncing mailbox {name}"
        else:
            raise users.UserError(f"unknown operation {operation!r}")
    except (MailvaultError, ValueError) as exc:
        return _back("/admin/accounts", error=str(exc))
    reading.record(state, who, Action.USER_CHANGE, target=what)
    return _back("/admin/accounts", done=t("Done: {what}", what=what))
