"""A real Dovecot for the IMAP tests: one server for the session, a fresh user per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.imap.dovecot import Dovecot, dovecot_installed
from tests.servers import REQUIRE_ENV


@contextmanager
def _running() -> Iterator[Dovecot]:
    if not dovecot_installed():
        if os.environ.get(REQUIRE_ENV):
            pytest.fail("Dovecot is required here but not installed; run `bash .ci/run`")
        pytest.skip("Dovecot not installed (apt-get install dovecot-imapd); `bash .ci/run` does it")
    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    with _running() as server:
        yield server


@pytest.fixture
def own_dovecot() -> Iterator[Dovecot]:
    """A server of the test's own, for tests that stop it."""
    with _running() as server:
        yield server
