"""SMTP AUTH for the gateway: a file of `name:argon2-hash` lines, checked with argon2-cffi.

aiosmtpd offers AUTH only after STARTTLS (auth_require_tls), so passwords never cross in clear.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mailvault.errors import ConfigError

log = logging.getLogger(__name__)

_hasher = PasswordHasher()


def read_users(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"[smtp] auth_users_file {path}: {exc.strerror}") from exc
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        if not sep or not hashed.startswith("$argon2"):
            raise ConfigError(f"[smtp] auth_users_file {path}, line {number}: expected name:$argon2... hash")
        users[name.strip()] = hashed.strip()
    return users


def set_password(path: Path, name: str, password: str) -> None:
    """Add or replace one user's line; the file stays readable by its owner only."""
    if not name or ":" in name or any(c.isspace() for c in name):
        raise ConfigError(f"user name {name!r} may not be empty or contain ':' or spaces")
    users = read_users(path) if path.exists() else {}
    users[name] = _hasher.hash(password)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(f"{user}:{hashed}\n" for user, hashed in sorted(users.items()))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class Authenticator:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        hashed = self.users.get(login)
        peer = session.peer[0] if isinstance(session.peer, tuple) else session.peer
        try:
            if hashed is not None and _hasher.verify(hashed, auth_data.password.decode("utf-8", "replace")):
                log.info("AUTH %s succeeded for %s from %s", mechanism, login, peer)
                return AuthResult(success=True, auth_data=auth_data)
        except (VerificationError, InvalidHashError):
            pass
        log.warning("AUTH %s failed for %s from %s (wrong name or password)", mechanism, login, peer)
        return AuthResult(success=False, handled=False)
