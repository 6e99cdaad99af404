"""Registered accounts: mailboxes mailvault keeps syncing, their encrypted passwords, what is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailvault.archive.arrival import utcnow
from mailvault.archive.db import Database
from mailvault.archive.models import ImapAccount, ImapFolder
from mailvault.config import Settings
from mailvault.errors import ConfigError, NotFoundError
from mailvault.imapsync.client import Endpoint, ImapSession
from mailvault.imapsync.providers import by_key, recognise
from mailvault.imapsync.secrets import SecretBox
from mailvault.imapsync.state import AccountSpec, account_row

RETRY_AFTER_ERROR = timedelta(minutes=5)  # a sync that failed (not on the password) is tried again


@dataclass(frozen=True, slots=True)
class AccountInfo:
    name: str
    owner: str
    provider: str | None
    registered: bool
    interval_seconds: int
    last_sync_at: datetime | None
    last_error: str | None
    stopped: bool
    folders: int
    messages: int

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "owner": self.owner,
            "provider": self.provider,
            "registered": self.registered,
            "interval_seconds": self.interval_seconds,
            "last_sync_at": self.last_sync_at.isoformat(timespec="seconds") if self.last_sync_at else None,
            "last_error": self.last_error,
            "stopped": self.stopped,
            "folders": self.folders,
            "messages": self.messages,
        }


def register(db: Database, box: SecretBox, spec: AccountSpec, password: str, interval: int) -> None:
    """Keep syncing this account every `interval` seconds with this password (stored encrypted)."""
    account_id = account_row(db, spec)
    with db.writing() as session:
        account = session.get(ImapAccount, account_id)
        if account is not None:
            account.secret = box.seal(password)
            account.registered = True
            account.interval_seconds = interval
            account.stopped_at = None


def unregister(db: Database, name: str) -> None:
    """Stop syncing and forget the password; the archived mail and its history stay."""
    with db.writing() as session:
        account = _named(session, name)
        account.registered, account.secret = False, None


def set_password(db: Database, box: SecretBox, name: str, password: str) -> None:
    with db.writing() as session:
        account = _named(session, name)
        account.secret = box.seal(password)
        account.stopped_at = None  # a rejected password stopped it; this one gets a chance


def _named(session: Session, name: str) -> ImapAccount:
    account = session.scalar(select(ImapAccount).where(ImapAccount.name == name))
    if account is None:
        raise NotFoundError(f"no IMAP account named {name}; `mailvault accounts list` shows them")
    return account


def listing(db: Database) -> list[AccountInfo]:
    with db.reading() as session:
        accounts = session.scalars(select(ImapAccount).order_by(ImapAccount.name)).all()
        folders = session.execute(
            select(ImapFolder.account_id, ImapFolder.messages).where(ImapFolder.ended_at.is_(None))
        ).all()
    counts: dict[int, tuple[int, int]] = {}
    for account_id, messages in folders:
        seen, total = counts.get(account_id, (0, 0))
        counts[account_id] = (seen + 1, total + messages)
    return [
        AccountInfo(
            a.name,
            a.owner,
            a.provider,
            a.registered,
            a.interval_seconds,
            a.last_sync_at,
            a.last_error,
            a.stopped_at is not None,
            *counts.get(a.account_id, (0, 0)),
        )
        for a in accounts
    ]


@dataclass(frozen=True, slots=True)
class Registered:
    spec: AccountSpec
    password: str
    due_at: datetime


def registered(db: Database, box: SecretBox, names: list[str] | None = None) -> list[Registered]:
    """Registered accounts that can be synced (not stopped on a rejected password), with when
    each is next due; `names` picks some (stopped ones included: the user asked)."""
    with db.reading() as session:
        query = select(ImapAccount).where(ImapAccount.registered.is_(True))
        if names:
            query = query.where(ImapAccount.name.in_(names))
        else:
            query = query.where(ImapAccount.stopped_at.is_(None))
        accounts = session.scalars(query.order_by(ImapAccount.name)).all()
    found = []
    for a in accounts:
        if a.secret is None:
            continue
        spec = AccountSpec(a.host, a.port, a.security, a.username, a.owner, a.provider, a.connections)
        found.append(Registered(spec, box.open(a.secret), _due(a)))
    if names:
        missing = set(names) - {r.spec.name for r in found}
        if missing:
            listed = ", ".join(sorted(missing))
            raise NotFoundError(f"not registered: {listed}; `mailvault accounts add` registers an account")
    return found


def _due(account: ImapAccount) -> datetime:
    if account.last_sync_at is None:
        return datetime.min
    if account.sync_requested_at is not None and account.sync_requested_at >= account.last_sync_at:
        return account.sync_requested_at
    wait = timedelta(seconds=account.interval_seconds)
    if account.last_error:
        wait = min(wait, RETRY_AFTER_ERROR)
    return account.last_sync_at + wait


def now() -> datetime:
    return utcnow()


def account_spec(
    settings: Settings,
    *,
    host: str | None,
    port: int | None,
    security: str | None,
    username: str,
    owner: str,
    provider: str | None,
    connections: int | None,
) -> AccountSpec:
    """The account the options describe, completed from the provider's preset."""
    preset = by_key(provider) if provider else recognise(host, username)
    if host is None and preset is None:
        raise ConfigError(f"name the IMAP server with --host (no known provider for {username})")
    chosen = security or (preset.security if preset and host in (None, preset.host) else "tls")
    return AccountSpec(
        host=host or (preset.host if preset else ""),
        port=port or (preset.port if preset and chosen == "tls" else (993 if chosen == "tls" else 143)),
        security=chosen,
        username=username,
        owner=owner,
        provider=preset.key if preset else None,
        connections=min(connections or settings.imap.connections, preset.connections if preset else 16),
    )


async def check_login(endpoint: Endpoint, user: str, password: str) -> None:
    """Fail now, with the provider's advice, rather than at the first scheduled sync."""
    session = await ImapSession.connect(endpoint)
    try:
        await session.login(user, password)
    finally:
        await session.logout()
