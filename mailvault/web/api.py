"""The JSON API under /api: the same reads as the pages (web/reading.py), with the same
permissions and audit records. Sign in with POST /api/login; the session cookie it sets is
the credential, and calls that change something send the returned csrf_token as X-CSRF-Token."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from mailvault.access import audit, sessions, users
from mailvault.access.audit import Action
from mailvault.access.models import UserRole
from mailvault.index.engine import Sort
from mailvault.index.query import QueryError
from mailvault.web import exporting, reading, signin
from mailvault.web.context import SESSION_COOKIE, Viewer, require, state_of, viewer
from mailvault.web.pages_admin import audit_filter
from mailvault.web.render import body_of
from mailvault.web.responses import download_response

router = APIRouter(prefix="/api", tags=["archive"])
SignedIn = Annotated[Viewer, Depends(viewer)]


class Credentials(BaseModel):
    username: str
    password: str


@router.post("/login", summary="Sign in; sets the session cookie and returns the CSRF token")
def api_login(request: Request, credentials: Credentials) -> Response:
    tried = signin.attempt(request, credentials.username, credentials.password, via="api")
    if tried.refusal is signin.Refusal.PAUSED:
        return JSONResponse({"error": "too many failed sign-ins; wait and try again"}, status_code=429)
    if tried.user is None:
        return JSONResponse(
            {"error": "wrong username or password, or the account is disabled"}, status_code=401
        )
    state = state_of(request)
    found = sessions.find(state.archive.db, tried.token, state.idle_limit)
    response = JSONResponse({"user": tried.user.as_dict(), "csrf_token": found.csrf_token if found else ""})
    signin.set_session_cookie(request, response, tried.token)
    return response


@router.post("/logout", summary="End this session")
def api_logout(request: Request, who: SignedIn) -> dict[str, str]:
    who.check_csrf(request.headers.get("x-csrf-token"))
    state = state_of(request)
    sessions.end(state.archive.db, request.cookies.get(SESSION_COOKIE, ""))
    reading.record(state, who, Action.SIGN_OUT)
    return {"status": "signed out"}


@router.get("/me", summary="Who is signed in, with role and grants")
def me(who: SignedIn) -> dict[str, Any]:
    return who.user.as_dict() | {"csrf_token": who.csrf_token}


@router.get("/search", summary="Search with the query language; only what the user may read")
def api_search(
    request: Request,
    who: SignedIn,
    q: str = "",
    sort: Sort = Sort.DATE,
    offset: Annotated[int, Query(ge=0, le=200_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Response:
    try:
        found = reading.run_search(state_of(request), who, q, sort=sort, offset=offset, limit=limit)
    except QueryError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(found.as_dict())


@router.get("/messages/{archive_id}", summary="A message: headers, participants, attachments, sources, text")
def api_message(request: Request, who: SignedIn, archive_id: int) -> dict[str, Any]:
    state = state_of(request)
    record = reading.open_message(state, who, archive_id)
    body = body_of(state.archive.blobs.get(record.message.sha256))
    return record.as_dict() | {"text": body.text, "has_html": body.html is not None}


@router.get("/messages/{archive_id}/raw", summary="The exact original bytes (message/rfc822)")
def api_raw(request: Request, who: SignedIn, archive_id: int) -> Response:
    _, raw = reading.raw_bytes(state_of(request), who, archive_id)
    return Response(raw, media_type="message/rfc822", headers={"Content-Disposition": "attachment"})


@router.get("/messages/{archive_id}/attachments/{position}", summary="One attachment, as a download")
def api_attachment(request: Request, who: SignedIn, archive_id: int, position: int) -> Response:
    found = reading.attachment(state_of(request), who, archive_id, position)
    return download_response(found.data, found.filename)


@router.get("/messages/{archive_id}/thread", summary="The conversation of a message, as a tree")
def api_thread(request: Request, who: SignedIn, archive_id: int) -> dict[str, Any]:
    found = reading.thread(state_of(request), who, archive_id)
    return {"roots": [root.as_dict() for root in found.roots], "hidden": found.hidden}


@router.get("/audit", summary="The audit trail, newest first (admin and auditor)")
def api_audit(
    request: Request,
    who: SignedIn,
    user: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    text: str = "",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    require(who, UserRole.ADMIN, UserRole.AUDITOR)
    state = state_of(request)
    total, rows = audit.events(
        state.archive.db, audit_filter(user, action, since, until, text), offset=offset, limit=limit
    )
    reading.record(state, who, Action.VIEW_AUDIT, query=f"api user={user} action={action} text={text}")
    return {
        "total": total,
        "events": [
            {
                "at": e.at.isoformat() + "Z",
                "username": e.username,
                "action": e.action,
                "outcome": e.outcome,
                "target": e.target,
                "query": e.query,
                "count": e.count,
                "address": e.address,
                "detail": e.detail,
            }
            for e in rows
        ],
    }


@router.get("/users", summary="Every user with role and grants (admin)")
def api_users(request: Request, who: SignedIn) -> list[dict[str, object]]:
    require(who, UserRole.ADMIN)
    return [u.as_dict() for u in users.list_users(state_of(request).archive.db)]


@router.get(
    "/export", summary="A message, a conversation or a search as a zip (.eml or mbox) with SHA-256 manifest"
)
def api_export(
    request: Request,
    who: SignedIn,
    format: Literal["zip", "mbox"] = "zip",
    message: int | None = None,
    thread: int | None = None,
    q: str | None = None,
) -> Response:
    state = state_of(request)
    ids, what = exporting.messages_for(state, who, message=message, thread=thread, query=q)
    return exporting.export_response(state, who, ids, what, format)
