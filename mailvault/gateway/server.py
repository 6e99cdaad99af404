"""The SMTP protocol as mailvault runs it: aiosmtpd's SMTP with client policy, XFORWARD, a
timeout that spares moving DATA transfers, and listeners served in our own event loop."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
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
_DATA_BLOCK = 256 * 1024  # read at most this much of a message at a time (asyncio's largest recv)
# While DATA streams, the reader buffers up to twice this before it pauses the socket. Outside DATA
# aiosmtpd's limit is the command line length (1001), which paused and resumed reading, two
# epoll_ctl calls, for every block of every message over 2 KB.
_DATA_BUFFER_LIMIT = 64 * 1024

# RFC 5321 §4.1.2: a Path that is `<` Dot-string `@` Domain `>`, with an ASCII atext local part and
# a letters-digits-hyphens domain: what nearly every MAIL FROM and RCPT TO carries. Parsed here
# with one regex; anything else (quoted local parts, literals, source routes, `<>`, SMTPUTF8, ...)
# goes to aiosmtpd's parser, which gives the same answer for these, at ~150 µs a command.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(rf"<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")


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
        self._deadline = 0.0  # loop time at which the session times out, unless it moves on
        self._timer_due: float | None = None  # when the pending timeout callback runs

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
        if self._in_data:
            # aiosmtpd does not reset its timer while DATA streams: a large message on a slow link
            # would be cut off. Time out only when the client has really gone quiet.
            self._deadline = self.loop.time() + self._timeout_duration
        super().data_received(data)

    def _reset_timeout(self, duration: float | None = None) -> None:
        """aiosmtpd's, without a new timer per command: a later deadline is only noted, and the
        timer, when it fires, waits for the rest (cancelling and re-creating one for every command
        cost more than the rest of the timeout handling together)."""
        deadline = self.loop.time() + (duration or self._timeout_duration)
        self._deadline = deadline
        if self._timer_due is not None and self._timer_due <= deadline:
            return
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
        self._timer_due = deadline
        self._timeout_handle = self.loop.call_at(deadline, self._timeout_cb)

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
        reader = self._reader
        line_limit = reader._limit  # type: ignore[attr-defined]
        self._in_data = True
        reader._limit = max(line_limit, _DATA_BUFFER_LIMIT)  # type: ignore[attr-defined]
        try:
            content, size = await self._read_data()
        finally:
            self._in_data = False
            reader._limit = line_limit  # type: ignore[attr-defined]
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
        stuffed = False  # whether a line starts with a dot (most messages have none)
        while True:
            end, search, stuffed = _find_end(buffer, search, stuffed)
            if end != -1:
                leftover = bytes(buffer[end + 5 :])
                if leftover:
                    self._reader._buffer[0:0] = leftover  # type: ignore[attr-defined]
                size = dropped + end
                if dropped or (limit and size > limit):
                    return None, size
                if stuffed:
                    return bytes(buffer[: end + 2]).replace(b"\r\n.", b"\r\n")[2:], size
                with memoryview(buffer) as view:
                    return bytes(view[2 : end + 2]), size  # nothing to unstuff: one copy, no scan
            # Over the limit for sure: past the CRLF prefix, the buffer may end in the first two
            # bytes of the terminator (".", "\r"), which the size does not count.
            if limit and dropped + len(buffer) - 4 > limit:
                keep = buffer[-4:]
                dropped += len(buffer) - 4
                buffer[:] = keep
                search = 0
            block = await self._reader.read(_DATA_BLOCK)
            if not block:
                return None, _CLOSED
            buffer += block

    def _timeout_cb(self) -> None:
        due, self._timer_due = self._timer_due, None
        if due is not None and self._deadline > due:
            # A command (or, in DATA, more of the message) came since the timer was set.
            self._timer_due = self._deadline
            self._timeout_handle = self.loop.call_at(self._deadline, self._timeout_cb)
            return
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's, with a fast path for the plain `<local@domain.example>` (see _PLAIN_PATH)."""
        match = _PLAIN_PATH.match(arg) if arg[:1] == "<" else None
        if match is None:
            return super()._getaddr(arg)
        address = match[1]
        rest = arg[match.end() :]
        if rest[:1] in (" ", "\t"):
            rest = rest.lstrip()  # the [CFWS] after the path, as get_angle_addr takes it
        if address.startswith("=?") or rest[:1] == "(":
            return super()._getaddr(arg)  # an RFC 2047 word, or a comment: the parser decides
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest

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


def _find_end(buffer: bytearray, start: int, stuffed: bool) -> tuple[int, int, bool]:
    """Where `CRLF.CRLF` starts in `buffer` at or after `start`, or -1; where to search from
    when more data has come; and whether a line starts with a dot before that (dot-stuffing).

    Until a line that starts with a dot turns up, a block without a dot (most blocks of most
    messages) costs one memchr, and each CRLF-dot is checked for what follows it; after it, only
    the terminator is looked for. Where no line starts with a dot, there is nothing to unstuff,
    and the message is one copy of the buffer, not a `replace` over it."""
    while not stuffed:
        dot = buffer.find(b".", start + 2)
        if dot == -1:
            return -1, max(len(buffer) - 2, start), False
        hit = buffer.find(b"\r\n.", dot - 2)
        if hit == -1:
            return -1, max(len(buffer) - 2, start), False
        after = buffer[hit + 3 : hit + 5]
        if len(after) < 2:
            return -1, hit, False  # what follows the dot has not come yet
        if after == b"\r\n":
            return hit, hit, False
        stuffed, start = True, hit + 3
    end = buffer.find(b"\r\n.\r\n", start)
    return end, end if end != -1 else max(len(buffer) - 4, start), True


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
