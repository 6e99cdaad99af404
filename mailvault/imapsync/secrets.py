"""Stored IMAP passwords, encrypted at rest (Fernet: AES-128-CBC with an HMAC-SHA256 tag).

The key lives in its own file ([imap] secret_key_file), not in the database: a copy of the
database or a backup of it alone does not reveal any password.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from mailvault.durable import fsync_dir
from mailvault.errors import ConfigError


class SecretBox:
    def __init__(self, key_file: Path, *, create: bool = False) -> None:
        self.key_file = key_file
        self._fernet = Fernet(self._key(create))

    def _key(self, create: bool) -> bytes:
        try:
            return self.key_file.read_bytes().strip()
        except FileNotFoundError:
            if not create:
                raise ConfigError(
                    f"the key for stored IMAP passwords ({self.key_file}) is missing; restore it, or "
                    "add the accounts again with `mailvault accounts add`"
                ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read the IMAP password key {self.key_file}: {exc.strerror}") from None
        return self._create()

    def _create(self) -> bytes:
        key = Fernet.generate_key()
        self.key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.key_file.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(descriptor, key + b"\n")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(temporary, self.key_file)  # never replaces a key another process created
        except FileExistsError:
            temporary.unlink()
            return self.key_file.read_bytes().strip()
        temporary.unlink()
        fsync_dir(self.key_file.parent)
        return key

    def seal(self, password: str) -> str:
        return self._fernet.encrypt(password.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise ConfigError(
                f"a stored IMAP password does not decrypt with the key in {self.key_file} (another "
                "key?); set the password again with `mailvault accounts passwd`"
            ) from None
