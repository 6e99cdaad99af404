"""The SMTP protocol as mailvault runs it: aiosmtpd's SMTP with client policy, XFORWARD, a
timeout that spares moving DATA transfers, and listeners served in our own event loop."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP

from mailvault.errors import ConfigError, MailvaultError
from mailvault.gateway.relay import RelaySession

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(networks: list[str]) -> list[Network]:
    parsed: list[Network] = []
    for text in networks:
        try:
            parsed.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ConfigError(
                f"[smtp] allowed_networks: {text!r} is not a network (e.g. 10.0.0.0/8)"
            ) from None
    return parsed


@dataclass
class SessionLimits:
    """Shared by every session of every listener: who may connect, and how many at once."""

    allowed: list[Network]
    max_sessions: int
    active: set[GatewaySMTP] = field(default_factory=set)
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def opened(self, session: GatewaySMTP) -> None:
        self.active.add(session)
        self.idle.clear()

    def closed(self, session: GatewaySMTP) -> None:
        self.active.discard(session)
        if not self.active:
            self.idle.set()

    def refusal(self, peer: Any) -> str | None:
        address = peer[0] if isinstance(peer, tuple | list) and peer else ""
        try:
            ip = ipaddress.ip_address(str(address).split("%")[0])
        except ValueError:
            return "554 5.7.1 Client address unknown; connection refused"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not any(ip in network for network in self.allowed):
            log.warning("refused connection from %s: not in [smtp] allowed_networks", ip)
            return "554 5.7.1 Client not allowed to use this archive gateway"
        if len(self.active) > self.max_sessions:
            log.warning(
                "refused connection from %s: %d sessions ([smtp] max_sessions)", ip, self.max_sessions
            )
            return "421 4.7.0 Too many connections; please try again later"
        return None


class GatewaySMTP(SMTP):
    """aiosmtpd's SMTP plus mailvault's session policy."""

    def __init__(self, handler: Any, *, limits: SessionLimits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.limits = limits
        self.xforward: dict[str, str] = {}
        self.relay: RelaySession | None = None  # the next-hop session, in relay mode
        self._closing: set[asyncio.Task[None]] = set()
        self._in_data = False
        self._last_received = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.limits.opened(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.limits.closed(self)
        if self.relay is not None:
            task = self.loop.create_task(self.relay.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        refusal = self.limits.refusal(self.session.peer if self.session else None)
        if refusal is not None:
            await self.push(refusal)
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    def data_received(self, data: bytes) -> None:
        self._last_received = self.loop.time()
        super().data_received(data)

    async def smtp_DATA(self, arg: str) -> None:
        self._in_data = True
        try:
            await super().smtp_DATA(arg)
        finally:
            self._in_data = False

    def _timeout_cb(self) -> None:
        # aiosmtpd does not reset its timer while DATA streams: a large message on a slow link
        # would be cut off. Time out only when the client has really gone quiet.
        if self._in_data:
            quiet = self.loop.time() - self._last_received
            if quiet < self._timeout_duration:
                self._reset_timeout(self._timeout_duration - quiet)
                return
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    async def smtp_XFORWARD(self, arg: str) -> None:
        """Postfix's XFORWARD (Postfix XFORWARD_README): the original client of a relayed message."""
        if not arg:
            await self.push("501 5.5.4 Syntax: XFORWARD attribute=value...")
            return
        for item in arg.split():
            name, _, value = item.partition("=")
            if name.upper() in {"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"}:
                self.xforward[name.upper()] = "" if value == "[UNAVAILABLE]" else value
        await self.push("250 2.0.0 Ok")


async def start_listener(factory: Callable[[], GatewaySMTP], address: str, port: int) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    try:
        return await loop.create_server(factory, host=address, port=port, reuse_address=True)
    except PermissionError as exc:
        raise MailvaultError(
            f"cannot bind {address}:{port} (permission denied); run with CAP_NET_BIND_SERVICE or "
            "set [smtp] listeners port above 1023"
        ) from exc
    except OSError as exc:
        raise MailvaultError(
            f"cannot bind {address}:{port} ({exc.strerror}); is another server using it?"
        ) from exc


def default_hostname(configured: str) -> str:
    return configured or socket.getfqdn()
