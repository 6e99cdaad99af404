"""Provider presets: recognised from the address or the server, with the advice a refused login needs."""

from __future__ import annotations

import pytest

from mailvault.config import load_settings
from mailvault.errors import ConfigError
from mailvault.imapsync.accounts import account_spec
from mailvault.imapsync.providers import recognise


@pytest.mark.parametrize(
    ("user", "host", "key"),
    [
        ("zhang.wei@163.com", None, "163"),
        ("li.na@qq.com", None, "qq"),
        ("li.na@foxmail.com", None, "qq"),
        ("someone@gmail.com", None, "gmail"),
        ("sales@huaqiang-elec.com.cn", "imap.exmail.qq.com", "exmail"),
        ("sales@huaqiang-elec.com.cn", None, None),
        ("sales@163.com", "mail.example.com", None),  # a server named explicitly wins
    ],
)
def test_providers_are_recognised(user: str, host: str | None, key: str | None) -> None:
    found = recognise(host, user)
    assert (found.key if found else None) == key


def test_a_preset_completes_the_account_and_caps_its_connections() -> None:
    settings = load_settings(imap={"connections": 4})
    spec = account_spec(
        settings,
        host=None,
        port=None,
        security=None,
        username="zhang.wei@163.com",
        owner="zhang.wei@huaqiang-elec.com.cn",
        provider=None,
        connections=None,
    )
    assert (spec.host, spec.port, spec.security, spec.provider, spec.connections) == (
        "imap.163.com",
        993,
        "tls",
        "163",
        1,  # the NetEase preset: one connection at a time
    )
    plain = account_spec(
        settings,
        host="mail.example.com",
        port=None,
        security="starttls",
        username="zw",
        owner="zw@example.com",
        provider=None,
        connections=None,
    )
    assert (plain.port, plain.connections) == (143, 4)


def test_an_unknown_provider_needs_a_host() -> None:
    with pytest.raises(ConfigError, match="--host"):
        account_spec(
            load_settings(),
            host=None,
            port=None,
            security=None,
            username="sales@huaqiang-elec.com.cn",
            owner="x@y.z",
            provider=None,
            connections=None,
        )
