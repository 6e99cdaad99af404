"""Logging set-up: one plain line per event, no timestamps under systemd (the journal adds them)."""

from __future__ import annotations

import logging
import os
import re
import sys

_SECRET = re.compile(r"(?i)(password|passwd|secret|token|authorization)(\s*[=:]\s*)\S+")


class RedactingFormatter(logging.Formatter):
    """Masks `password=…`-style values that slip into a message; bodies are never logged at all."""

    def format(self, record: logging.LogRecord) -> str:
        return _SECRET.sub(r"\1\2***", super().format(record))


def setup_logging(level: str = "INFO") -> None:
    under_systemd = "JOURNAL_STREAM" in os.environ
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not under_systemd:
        fmt = "%(asctime)s " + fmt
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter stays at WARNING unless we debug.
    for noisy in ("alembic", "sqlalchemy", "aiosmtplib"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    # aiosmtpd ("mail.log") logs every line it reads at DEBUG, AUTH credentials included: never.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    # aioimaplib logs what it sends at DEBUG: LOGIN with the password quoted (its scrubbing misses
    # a password that quoting changed) and every message it receives: never.
    logging.getLogger("aioimaplib").setLevel(logging.WARNING)
