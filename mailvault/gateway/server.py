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

from aiosmtpd.smtp import MISSING, SMTP

from mailvault.errors import ConfigError, MailvaultError
from mailvault.gateway.relay import RelaySession

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_CLOSED = -1  # _read_data's size when the client hung up


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
        """DATA read in blocks rather than aiosmtpd's line by line (~6.5 µs a line, which made the
        event loop the gateway's bottleneck for large messages). No line-length limit: mail with
        long lines is archived, not refused."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if self.envelope is None or not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        self._in_data = True
        try:
            content, size = await self._read_data()
        finally:
            self._in_data = False
        if size == _CLOSED:
            # The client hung up mid-message: it got no 250, so it still has the message.
            if self.transport is not None:
                self.transport.close()
            return
        if content is None:
            log.warning(
                "%s: message of %d bytes refused: over [smtp] max_message_size (%d)",
                self.session.peer[0] if self.session and self.session.peer else "?",
                size,
                self.data_size_limit,
            )
            await self.push("552 5.3.4 Error: message too big")
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            return
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    async def _read_data(self) -> tuple[bytes | None, int]:
        """The message up to `CRLF.CRLF`, dot-unstuffed (RFC 5321 §4.5.2); None when too big.

        A CRLF is put in front so that the terminator is found even for an empty message; bytes
        after the terminator (the next pipelined command) go back to the reader."""
        buffer = bytearray(b"\r\n")
        limit = self.data_size_limit
        dropped = 0  # bytes of a message over the limit, read and thrown away
        search = 0
        while True:
            end = buffer.find(b"\r\n.\r\n", search)
            if end != -1:
                leftover = bytes(buffer[end + 5 :])
                if leftover:
                    self._reader._buffer[0:0] = leftover  # type: ignore[attr-defined]
                size = dropped + end
                if dropped or (limit and size > limit):
                    return None, size
                return bytes(buffer[: end + 2]).replace(b"\r\n.", b"\r\n")[2:], size
            if limit and dropped + len(buffer) - 2 > limit:
                keep = buffer[-4:]
                dropped += len(buffer) - 4
                buffer[:] = keep
            search = max(len(buffer) - 4, 0)
            block = await self._reader.read(65536)
            if not block:
                return None, _CLOSED
            buffer += block

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
