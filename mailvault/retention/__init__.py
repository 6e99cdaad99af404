"""Retention rules, legal holds, and the purge: the only code path that deletes archived mail."""

from __future__ import annotations

from mailvault.errors import MailvaultError


class RetentionError(MailvaultError):
    """A retention rule, legal hold or purge cannot be done as asked; the message says why."""


class RetentionDenied(RetentionError):
    """The user named is not allowed to do this (unknown, disabled, or without the role)."""
