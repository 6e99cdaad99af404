"""STARTTLS with a configured certificate, TLS required, and SMTP AUTH offered only over TLS."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from pathlib import Path

import pytest
from sqlalchemy import select

from mailvault.archive.models import Source
from mailvault.gateway.auth import set_password
from tests.gateway.conftest import gateway_settings, running
from tests.mailfactory import make_message
from tests.servers import self_signed_certificate


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a self-signed test certificate
    return context


async def test_starttls_is_recorded_and_required(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    settings = gateway_settings(tmp_path, url, tls_cert=cert, tls_key=key, require_tls=True)
    async with running(settings) as gateway:

        def plain() -> None:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as client:
                client.sendmail("a@kunde.de", ["b@x.cn"], make_message())

        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            await asyncio.to_thread(plain)
        assert refused.value.smtp_code == 530

        def encrypted() -> dict[str, tuple[int, bytes]]:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as client:
                client.starttls(context=client_context())
                return client.sendmail("a@kunde.de", ["b@x.cn"], make_message())

        assert await asyncio.to_thread(encrypted) == {}
        archive = await gateway.archived(1)
        try:
            with archive.db.reading() as session:
                source = session.scalars(select(Source)).one()
            assert source.detail["tls"] is True
        finally:
            archive.close()


async def test_auth_only_over_tls_and_wrong_password_refused(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    users = tmp_path / "smtp-users"
    set_password(users, "exchange-online", "correct horse battery")
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    settings = gateway_settings(
        tmp_path, url, tls_cert=cert, tls_key=key, auth_users_file=users, require_auth=True
    )
    async with running(settings) as gateway:

        def features_without_tls() -> str:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as client:
                return client.ehlo()[1].decode()

        assert "AUTH" not in await asyncio.to_thread(features_without_tls)

        def login(password: str) -> dict[str, tuple[int, bytes]]:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as client:
                client.starttls(context=client_context())
                client.login("exchange-online", password)
                return client.sendmail("a@kunde.de", ["b@x.cn"], make_message())

        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            await asyncio.to_thread(login, "wrong")
        assert refused.value.smtp_code == 535
        assert await asyncio.to_thread(login, "correct horse battery") == {}
        archive = await gateway.archived(1)
        try:
            with archive.db.reading() as session:
                source = session.scalars(select(Source)).one()
            assert source.detail["auth"] == "exchange-online"
        finally:
            archive.close()
