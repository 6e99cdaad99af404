"""What is known about common mail providers: server, port, how many connections they tolerate,
and what their users must do before IMAP works (the usual cause of a failed login)."""

from __future__ import annotations

from dataclasses import dataclass

from mailvault.imapsync.client import Security


@dataclass(frozen=True, slots=True)
class Provider:
    key: str
    label: str
    host: str
    domains: tuple[str, ...]  # mail domains of its users, to recognise it from the address
    port: int = 993
    security: Security = "tls"
    connections: int = 2  # at most, per account
    login_hint: str = ""  # what to tell a user whose login was refused


_NETEASE = (
    "NetEase mail (163/126/yeah.net) needs IMAP switched on in the web mail's settings and the "
    "authorization code (授权码) it then shows, not the web login password"
)
_TENCENT = (
    "QQ Mail needs IMAP switched on (设置 → 账户) and the authorization code (授权码) it then "
    "shows, not the QQ password"
)

PROVIDERS: tuple[Provider, ...] = (
    Provider("163", "NetEase 163", "imap.163.com", ("163.com",), connections=1, login_hint=_NETEASE),
    Provider("126", "NetEase 126", "imap.126.com", ("126.com",), connections=1, login_hint=_NETEASE),
    Provider("yeah", "NetEase yeah.net", "imap.yeah.net", ("yeah.net",), connections=1, login_hint=_NETEASE),
    Provider(
        "qiye163",
        "NetEase enterprise mail",
        "imaphz.qiye.163.com",
        (),
        connections=2,
        login_hint="NetEase enterprise mail may need a client-specific password set by the mail admin",
    ),
    Provider("qq", "QQ Mail", "imap.qq.com", ("qq.com", "foxmail.com", "vip.qq.com"), login_hint=_TENCENT),
    Provider(
        "exmail",
        "Tencent Exmail (企业邮箱)",
        "imap.exmail.qq.com",
        (),
        login_hint="Tencent Exmail needs IMAP allowed by the admin and, with WeChat binding, a client "
        "password (客户端专用密码)",
    ),
    Provider(
        "aliyun",
        "Alibaba Mail (阿里邮箱)",
        "imap.aliyun.com",
        ("aliyun.com",),
        login_hint="Alibaba Mail needs IMAP switched on in its settings",
    ),
    Provider(
        "qiye-aliyun",
        "Alibaba enterprise mail (阿里企业邮箱)",
        "imap.qiye.aliyun.com",
        (),
        login_hint="Alibaba enterprise mail needs IMAP allowed by the admin and may need a client password",
    ),
    Provider(
        "sina",
        "Sina Mail",
        "imap.sina.com",
        ("sina.com", "sina.cn"),
        login_hint="Sina Mail needs IMAP switched on and its authorization code (授权码)",
    ),
    Provider(
        "sohu",
        "Sohu Mail",
        "imap.sohu.com",
        ("sohu.com",),
        login_hint="Sohu Mail needs IMAP switched on and an independent password (独立密码)",
    ),
    Provider(
        "gmail",
        "Gmail",
        "imap.gmail.com",
        ("gmail.com", "googlemail.com"),
        connections=4,
        login_hint="Gmail needs 2-step verification and an app password (Google account → Security)",
    ),
    Provider(
        "outlook",
        "Microsoft 365 / Outlook.com",
        "outlook.office365.com",
        ("outlook.com", "hotmail.com", "live.com"),
        login_hint="Microsoft 365 and Outlook.com refuse passwords over IMAP for most accounts (OAuth2 "
        "only); export the mailbox to PST/mbox and use `mailvault import mbox` instead",
    ),
    Provider(
        "yahoo",
        "Yahoo Mail",
        "imap.mail.yahoo.com",
        ("yahoo.com",),
        login_hint="Yahoo Mail needs an app password (Account security → Generate app password)",
    ),
    Provider(
        "icloud",
        "iCloud Mail",
        "imap.mail.me.com",
        ("icloud.com", "me.com", "mac.com"),
        login_hint="iCloud needs an app-specific password (appleid.apple.com)",
    ),
)

_BY_KEY = {p.key: p for p in PROVIDERS}


def by_key(key: str) -> Provider | None:
    return _BY_KEY.get(key.lower())


def recognise(host: str | None, user: str) -> Provider | None:
    """The provider of this server, or of the user's address when no server is named."""
    if host:
        lowered = host.lower().rstrip(".")
        return next((p for p in PROVIDERS if p.host == lowered), None)
    domain = user.rpartition("@")[2].lower()
    return next((p for p in PROVIDERS if domain in p.domains), None)
