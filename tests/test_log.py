"""Logging never carries secrets: AUTH exchanges, passwords in messages."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from mailvault.log import RedactingFormatter, setup_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_smtp_protocol_lines_are_never_logged_even_when_debugging() -> None:
    setup_logging("DEBUG")
    assert not logging.getLogger("mail.log").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("mail.log").isEnabledFor(logging.INFO)


@pytest.mark.parametrize("text", ["password=hunter2", "Password: hunter2", "token = abc.def", "secret=xyz"])
def test_secrets_in_messages_are_masked(text: str) -> None:
    record = logging.LogRecord("mailvault", logging.INFO, __file__, 1, "connecting with %s", (text,), None)
    out = RedactingFormatter("%(message)s").format(record)
    assert "hunter2" not in out
    assert "abc.def" not in out
    assert "xyz" not in out
    assert "***" in out
