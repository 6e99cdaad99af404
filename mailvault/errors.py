"""The exception tree of mailvault; every expected failure is one of these.

    MailvaultError            one line for the operator: what failed and what to do
    ├── ConfigError           names the file, [section], key and bad value
    ├── ArchiveError          database and storage failures
    │   ├── SchemaError       the database schema is missing or behind; fix: `mailvault db upgrade`
    │   └── NotFoundError     a message reference matched nothing (or several things)
    ├── SearchIndexError      lock or corruption; fix: `mailvault reindex`
    ├── DeliveryError         next hop refused or unreachable; carries its SMTP code
    └── ImapSyncError         carries account, folder and UID

Library exceptions are translated once, where they cross into our code (`raise ... from exc`).
"""

from __future__ import annotations


class MailvaultError(Exception):
    """An expected failure, reported as one line without a traceback."""


class ConfigError(MailvaultError):
    """The configuration file or environment holds an invalid value."""


class ArchiveError(MailvaultError):
    """The archive database or blob store failed."""


class SchemaError(ArchiveError):
    """The database schema is absent or not at the revision this code needs."""


class NotFoundError(ArchiveError):
    """A message reference matched no message, or more than one."""


class SearchIndexError(MailvaultError):
    """The full-text index is locked, damaged or behind."""


class DeliveryError(MailvaultError):
    """The next hop refused or could not be reached."""

    def __init__(self, message: str, smtp_code: int = 451) -> None:
        super().__init__(message)
        self.smtp_code = smtp_code


class ImapSyncError(MailvaultError):
    """An IMAP import failed for one account, folder or message."""

    def __init__(self, message: str, *, account: str = "", folder: str = "", uid: int | None = None) -> None:
        super().__init__(message)
        self.account = account
        self.folder = folder
        self.uid = uid
