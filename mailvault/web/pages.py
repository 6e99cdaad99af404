"""The HTML pages. Each handler: who is asking (viewer), what they may do (role and scope,
enforced in reading.py), render. Forms post back with the session's CSRF token."""

from __future__ import annotations

import math
import secrets
from collections import defaultdict
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from mailvault.access import sessions, users
from mailvault.access.audit import Action
from mailvault.index.engine import Sort
from mailvault.index.query import QueryError
from mailvault.web import exporting, reading, signin
from mailvault.web.app import templates
from mailvault.web.context import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    StaleForm,
    Viewer,
    signed_in,
    state_of,
    translator,
    viewer,
)
from mailvault.web.render import body_of, frame_policy
from mailvault.web.responses import download_response

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "mailvault_login"  # CSRF token of the sign-in form (there is no session yet)
PER_PAGE = 20

SignedIn = Annotated[Viewer, Depends(viewer)]


def render(request: Request, name: str, viewer: Viewer | None, section: str, **context: Any) -> Response:
    return templates.TemplateResponse(
        request,
        name,
        {
            "t": translator(request),
            "viewer": viewer,
            "csrf": viewer.csrf_token if viewer else "",
            "section": section,
        }
        | context,
    )


def _safe_next(target: str) -> str:
    """Only paths of this site: never an absolute URL (an open redirect)."""
    return (
        target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/search"
    )


@router.get("/")
def home() -> Response:
    return RedirectResponse("/search", status_code=303)


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)  # no icon; answering spares every page a 404 in the console


@router.get("/login")
def login_page(request: Request, next: str = "/search") -> Response:
    if signed_in(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_form(request, next, "", "")


def _login_form(request: Request, next: str, username: str, error: str, status: int = 200) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "t": translator(request),
            "viewer": None,
            "csrf": token,
            "section": "",
            "next": _safe_next(next),
            "username": username,
            "error": error,
        },
        status_code=status,
    )
    signin.set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/search",
) -> Response:
    state, t = state_of(request), translator(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf, expected):
        return _login_form(request, next, username, t("The sign-in form expired; please try again."), 400)
    tried = signin.attempt(request, username, password, via="form")
    if tried.refusal is signin.Refusal.PAUSED:
        minutes = int(state.rate_limit.window.total_seconds() // 60)
        text = t("Too many failed sign-ins; wait {minutes} minutes and try again.", minutes=minutes)
        return _login_form(request, next, username, text, 429)
    if tried.refusal is signin.Refusal.WRONG:
        text = t("Wrong username or password, or the account is disabled.")
        return _login_form(request, next, username, text, 401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    signin.set_session_cookie(request, response, tried.token)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, who: SignedIn, csrf: Annotated[str, Form()] = "") -> Response:
    who.check_csrf(csrf)
    state = state_of(request)
    sessions.end(state.archive.db, request.cookies.get(SESSION_COOKIE, ""))
    reading.record(state, who, Action.SIGN_OUT)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
def language(
    request: Request,
    language: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/search",
) -> Response:
    who = signed_in(request)
    expected = who.csrf_token if who else request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf, expected):
        raise StaleForm()
    chosen = language if language in ("zh", "en") else "en"
    if who is not None:
        users.set_language(state_of(request).archive.db, who.user.user_id, chosen)
    response = RedirectResponse(_safe_next(next), status_code=303)
    signin.set_cookie(request, response, LANGUAGE_COOKIE, chosen, max_age=365 * 86400, http_only=False)
    return response


def full_query(q: str, after: str, before: str, direction: str, owner: str, attachment: bool) -> str:
    """The typed query plus the filters chosen in the form, in the query language."""
    parts = [q.strip()] if q.strip() else []
    if after:
        parts.append(f"after:{after}")
    if before:
        parts.append(f"before:{before}")
    if direction:
        parts.append(f"direction:{direction}")
    if owner.strip():
        parts.append(f"owner:{owner.strip()}")
    if attachment:
        parts.append("has:attachment")
    return " ".join(parts)


@router.get("/search")
def search_page(
    request: Request,
    who: SignedIn,
    q: str = "",
    after: str = "",
    before: str = "",
    direction: str = "",
    owner: str = "",
    attachment: bool = False,
    sort: str = "date",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    state = state_of(request)
    query = full_query(q, after, before, direction, owner, attachment)
    chosen = Sort.RELEVANCE if sort == "relevance" else Sort.DATE
    results, error = None, ""
    if query:
        try:
            results = reading.run_search(
                state, who, query, sort=chosen, offset=(page - 1) * PER_PAGE, limit=PER_PAGE
            )
        except QueryError as exc:
            error = str(exc)
    form = {"q": q, "after": after, "before": before, "direction": direction, "owner": owner, "sort": sort}
    if attachment:
        form["attachment"] = "1"

    def page_url(number: int) -> str:
        return "/search?" + urlencode(form | {"page": str(number)})

    def export_url(fmt: str) -> str:
        return "/export?" + urlencode({"q": query, "format": fmt})

    pages = max(1, math.ceil(min(results.total, 10_000 * PER_PAGE) / PER_PAGE)) if results else 1
    return render(
        request,
        "search.html",
        who,
        "search",
        q=q,
        after=after,
        before=before,
        direction_filter=direction,
        owner=owner,
        attachment=attachment,
        sort=sort,
        results=results,
        error=error,
        page=page,
        pages=pages,
        page_url=page_url,
        export_url=export_url,
    )


@router.get("/messages/{archive_id}")
def message_page(request: Request, who: SignedIn, archive_id: int, remote: bool = False) -> Response:
    state = state_of(request)
    record = reading.open_message(state, who, archive_id)
    raw = state.archive.blobs.get(record.message.sha256)
    body = body_of(raw, show_remote=remote)
    people: dict[str, list[str]] = defaultdict(list)
    for p in record.participants:
        shown = f"{p.name} <{p.address}>" if p.name and p.address else (p.address or p.name)
        if shown not in people[p.role]:
            people[p.role].append(shown)
    if not people.get("from") and record.message.sender_addr:
        people["from"].append(record.message.sender_addr)
    frame = None
    if body.html is not None:
        frame = (
            '<!doctype html><meta charset="utf-8"><base target="_blank">'
            "<style>body{font:14px/1.5 system-ui,sans-serif;margin:8px;word-wrap:break-word}"
            "img{max-width:100%;height:auto}</style>" + body.html
        )
    response = render(
        request,
        "message.html",
        who,
        "search",
        m=record.message,
        people=people,
        attachments=record.attachments,
        sources=record.sources,
        body=body,
        frame_document=frame,
        problems=record.message.parse_problems.splitlines(),
    )
    response.headers["Content-Security-Policy"] = frame_policy(remote)
    return response


@router.get("/messages/{archive_id}/raw")
def raw_page(request: Request, who: SignedIn, archive_id: int) -> Response:
    record, raw = reading.raw_bytes(state_of(request), who, archive_id)
    return Response(
        raw,
        media_type="text/plain; charset=utf-8",
        headers={
            # Shown as text, never interpreted; the frame-less sandbox stops anything active.
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Disposition": f'inline; filename="{record.message.sha256}.eml"',
        },
    )


@router.get("/messages/{archive_id}/attachments/{position}")
def attachment_download(request: Request, who: SignedIn, archive_id: int, position: int) -> Response:
    found = reading.attachment(state_of(request), who, archive_id, position)
    return download_response(found.data, found.filename)


@router.get("/messages/{archive_id}/thread")
def thread_page(request: Request, who: SignedIn, archive_id: int) -> Response:
    state = state_of(request)
    found = reading.thread(state, who, archive_id)
    rows = found.messages()
    info = reading.directions(state, [node.archive_id for _, node in rows])
    employees = sorted(reading.employees_in(state, [node.archive_id for _, node in rows]))
    subject = rows[0][1].subject if rows else ""
    return render(
        request,
        "thread.html",
        who,
        "search",
        rows=rows,
        hidden=found.hidden,
        info=info,
        anchor=archive_id,
        subject=subject,
        employees=employees,
    )


@router.get("/export")
def export_download(
    request: Request,
    who: SignedIn,
    format: str = "zip",
    message: int | None = None,
    thread: int | None = None,
    q: str | None = None,
) -> Response:
    state = state_of(request)
    ids, what = exporting.messages_for(state, who, message=message, thread=thread, query=q)
    return exporting.export_response(state, who, ids, what, "mbox" if format == "mbox" else "zip")
