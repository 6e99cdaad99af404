"""A real Dovecot for the IMAP tests: one server for the session, a fresh user per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.imap.dovecot import Dovecot, dovecot_installed
from tests.servers import REQUIRE_ENV, self_signed_certificate


@contextmanager
def _running(tls: tuple[Path, Path] | None = None) -> Iterator[Dovecot]:
    if not dovecot_installed():
        if os.environ.get(REQUIRE_ENV):
            pytest.fail("Dovecot is required here but not installed; run `bash .ci/run`")
        pytest.skip("Dovecot not installed (apt-get install dovecot-imapd); `bash .ci/run` does it")
    server = Dovecot(tls=tls)
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


@pytest.fixture(scope="module")
def tls_dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    """A server with STARTTLS on its port and TLS on `tls_port` (a self-signed certificate)."""
    with _running(self_signed_certificate(tmp_path_factory.mktemp("imap-tls"), "imap.test")) as server:
        yield server
