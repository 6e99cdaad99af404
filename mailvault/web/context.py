"""What every request shares: the opened archive, the search engine, and who is asking.

Sign-in state is a server-side session (access/sessions.py) named by an HttpOnly, SameSite=Strict
cookie. Every form carries the session's CSRF token; JSON calls that change something send it in
the X-CSRF-Token header.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from fastapi import Request

from mailvault.access import sessions
from mailvault.access.models import UserRole
from mailvault.access.scope import Scope
from mailvault.access.users import UserInfo
from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.errors import SearchIndexError
from mailvault.index import indexer
from mailvault.index.engine import Engine
from mailvault.web.i18n import Translator, negotiate

SESSION_COOKIE = "mailvault_session"
LANGUAGE_COOKIE = "mailvault_lang"


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in page, the API answers 401."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this; or a message outside the user's scope
    (answered as 'not found', so its existence is not revealed)."""

    def __init__(self, what: str, *, hide: bool = False) -> None:
        super().__init__(what)
        self.hide = hide


class StaleForm(Forbidden):
    """A form without this session's CSRF token: stale, or posted from another site."""

    def __init__(self) -> None:
        super().__init__(
            "the form is out of date or was not sent by mailvault; reload the page and try again"
        )


@dataclass(frozen=True, slots=True)
class Viewer:
    user: UserInfo
    csrf_token: str
    scope: Scope
    address: str

    @property
    def role(self) -> UserRole:
        return self.user.role

    def may(self, *roles: UserRole) -> bool:
        return self.user.role in roles

    def check_csrf(self, token: str | None) -> None:
        if not token or not hmac.compare_digest(token, self.csrf_token):
            raise StaleForm()


class SearchEngines:
    """One open engine for the whole app, re-opened when `mailvault reindex` switches indexes.
    Searches are serialised: Whoosh searchers are not safe to share between threads."""

    def __init__(self, settings: Settings) -> None:
        self._root = settings.resolved_index_dir
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._directory: Path | None = None

    def __enter__(self) -> Engine:
        self._lock.acquire()
        try:
            directory = indexer.current_dir(self._root)
            if directory is None:
                raise SearchIndexError(
                    "there is no search index yet: `mailvault index update` builds it (mailvault serve "
                    "and mailvault web keep it up to date)"
                )
            if directory != self._directory or self._engine is None:
                if self._engine is not None:
                    self._engine.close()
                self._engine = indexer.open_engine(directory)
                self._directory = directory
            else:
                self._engine.refresh()
            return self._engine
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *_: object) -> None:
        self._lock.release()

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None


class WebState:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.archive = Archive(settings)
        self.search = SearchEngines(settings)
        web = settings.web
        self.session_lifetime = timedelta(hours=web.session_hours)
        self.idle_limit = timedelta(minutes=web.idle_minutes)
        self.rate_limit = sessions.RateLimit(
            web.login_failures_per_user,
            web.login_failures_per_address,
            timedelta(minutes=web.login_pause_minutes),
        )
        self.trusted_proxies = {ipaddress.ip_address(a) for a in web.trusted_proxies}

    def close(self) -> None:
        self.search.close()
        self.archive.close()


def state_of(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def client_address(request: Request) -> str:
    """The client's IP; a trusted reverse proxy's X-Forwarded-For names the real one."""
    peer = request.client.host if request.client else ""
    try:
        trusted = ipaddress.ip_address(peer) in state_of(request).trusted_proxies
    except ValueError:
        trusted = False
    if trusted:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
        if forwarded:
            return forwarded[:64]
    return peer[:64]


def signed_in(request: Request) -> Viewer | None:
    state = state_of(request)
    found = sessions.find(state.archive.db, request.cookies.get(SESSION_COOKIE, ""), state.idle_limit)
    if found is None:
        return None
    return Viewer(found.user, found.csrf_token, Scope.of(found.user), client_address(request))


def viewer(request: Request) -> Viewer:
    """FastAPI dependency: the signed-in user, or SignInRequired."""
    found = signed_in(request)
    if found is None:
        raise SignInRequired()
    request.state.viewer = found
    return found


def translator(request: Request) -> Translator:
    state = state_of(request)
    found: Viewer | None = getattr(request.state, "viewer", None)
    chosen = request.cookies.get(LANGUAGE_COOKIE) or (found.user.language if found else None)
    language = negotiate(
        chosen, request.headers.get("accept-language", ""), state.settings.web.default_language
    )
    return Translator(language, state.settings.web.time_zone)


def require(who: Viewer, *roles: UserRole) -> None:
    """Refuse unless the viewer has one of these roles."""
    if not who.may(*roles):
        raise Forbidden(f"the {who.role} role may not do this")
