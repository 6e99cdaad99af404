"""Signing in, the same for the form and the API: rate limit, password check, new session,
and an audit record of every attempt, successful or not."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fastapi import Request, Response

from mailvault.access import audit, sessions, users
from mailvault.access.audit import Action, Outcome
from mailvault.access.users import UserInfo
from mailvault.web.context import SESSION_COOKIE, client_address, state_of


class Refusal(StrEnum):
    PAUSED = "paused"  # too many failures lately: not even checked
    WRONG = "wrong"  # wrong username or password, or the account is disabled


@dataclass(frozen=True, slots=True)
class Attempt:
    user: UserInfo | None
    token: str  # the new session's cookie value; "" when refused
    refusal: Refusal | None


def attempt(request: Request, username: str, password: str, *, via: str) -> Attempt:
    state = state_of(request)
    db, address = state.archive.db, client_address(request)
    name = username.strip().lower()[:320]
    if sessions.refused(db, username, address, state.rate_limit):
        audit.record(
            db,
            username=name,
            action=Action.SIGN_IN,
            address=address,
            outcome=Outcome.DENIED,
            detail={"reason": "rate limit", "via": via},
        )
        return Attempt(None, "", Refusal.PAUSED)
    user = users.authenticate(db, username, password)
    if user is None:
        sessions.failed(db, username, address, state.rate_limit)
        audit.record(
            db,
            username=name,
            action=Action.SIGN_IN,
            address=address,
            outcome=Outcome.FAILED,
            detail={"via": via},
        )
        return Attempt(None, "", Refusal.WRONG)
    sessions.succeeded(db, username)
    token = sessions.start(db, user.user_id, address, state.session_lifetime)
    audit.record(db, username=user.username, action=Action.SIGN_IN, address=address, detail={"via": via})
    return Attempt(user, token, None)


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    state = state_of(request)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=int(state.session_lifetime.total_seconds()))


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int, http_only: bool = True
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=state_of(request).settings.web.secure_cookies,
        httponly=http_only,
        samesite="strict",
    )
