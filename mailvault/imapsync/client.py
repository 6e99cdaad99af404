"""The IMAP client: the only module that imports aioimaplib, behind a narrow interface.

aioimaplib 2.0.3 is mended here, in subclasses, where it fails on a large mailbox:
- its response reader recursed once per line (RecursionError past ~1,000 lines in one read,
  its issue #118) and copied the rest of the buffer for every line: ours loops over offsets;
- its FETCH command rescanned every line received so far after each new line (quadratic in the
  size of a response): ours keeps a running count of open parentheses;
- it formatted every received chunk for a debug log line even with debug logging off;
- a dropped connection left the pending command waiting for its timeout: ours fails it at once;
- it has no STARTTLS: ours upgrades the connection in place (RFC 3501 §6.2.1).
Every command has a timeout; after a timeout or a disconnect the session is unusable and the
caller opens a new one and resumes from its checkpoint.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aioimaplib

from mailvault.errors import ImapSyncError
from mailvault.imapsync.responses import (
    FetchItem,
    Folder,
    FolderStatus,
    parse_fetch,
    parse_list,
    parse_search,
    parse_status,
)

log = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "plain"]
CRLF = b"\r\n"


class ImapConnectionError(ImapSyncError):
    """The server could not be reached, refused us, or the connection broke."""


class ImapAuthError(ImapSyncError):
    """The server rejected the user name or password: retrying will not help."""


class ImapCommandError(ImapSyncError):
    """The server answered a command with NO or BAD."""


class ImapThrottled(ImapConnectionError):
    """The server asks us to slow down or come back later: retried after a pause, like a cut."""


# Response codes and words providers use to throttle (RFC 5530 LIMIT/UNAVAILABLE/INUSE, Gmail's
# "Too many simultaneous connections", NetEase's and Tencent's "try again later").
_THROTTLED = re.compile(
    r"\[(LIMIT|UNAVAILABLE|INUSE|OVERQUOTA)\]|too many|try again|rate limit|throttl|temporar", re.IGNORECASE
)


class _FetchCommand(aioimaplib.FetchCommand):  # type: ignore[misc]
    """Knows whether a FETCH item is complete from a running parenthesis count."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open = 0
        super().__init__(*args, **kwargs)

    def append_to_resp(self, line: bytes, result: str = "Pending") -> None:
        if isinstance(line, bytes) and result == "Pending":
            if self.FETCH_MESSAGE_DATA_RE.match(line):
                self._open = 0
            self._open += line.count(b"(") - line.count(b")")
        super().append_to_resp(line, result)

    def wait_data(self) -> bool:
        return bool(self.wait_literal_data() or self._open != 0)


class _Protocol(aioimaplib.IMAP4ClientProtocol):  # type: ignore[misc]
    incomplete_line: bytes
    current_command: Any
    transport: Any

    def data_received(self, data: bytes) -> None:
        try:
            self._handle_responses(self.incomplete_line + data, self._handle_line, self.current_command)
            self.incomplete_line = b""
            self.current_command = None
        except aioimaplib.IncompleteRead as incomplete:
            self.current_command = incomplete.cmd
            self.incomplete_line = incomplete.data

    def _handle_responses(self, data: bytes, line_handler: Any, current_cmd: Any = None) -> None:
        """aioimaplib's reader as a loop over offsets into one buffer (same outcomes)."""
        position, end = 0, len(data)
        while True:
            if position == end:
                if self.pending_sync_command is not None:
                    self.pending_sync_command.flush()
                if current_cmd is not None and current_cmd.wait_data():
                    raise aioimaplib.IncompleteRead(current_cmd)
                return
            if current_cmd is not None and current_cmd.wait_literal_data():
                wanted = current_cmd._expected_size - len(current_cmd._resp_literal_data)
                current_cmd.append_literal_data(data[position : position + wanted])
                position = min(end, position + wanted)
                if current_cmd.wait_literal_data():
                    raise aioimaplib.IncompleteRead(current_cmd)
                continue
            line_end = data.find(CRLF, position)
            if line_end < 0:
                raise aioimaplib.IncompleteRead(current_cmd, data[position:])
            line = data[position:line_end]
            position = line_end + 2
            command = line_handler(line, current_cmd)
            literal = aioimaplib.literal_data_re.match(line)
            if literal is not None:
                if command is None:
                    command = aioimaplib.Command("NIL", "unused")
                command.begin_literal_data(int(literal.group("size")))
                current_cmd = command
            elif command is not None and command.wait_data():
                current_cmd = command
            else:
                current_cmd = None

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        reason = aioimaplib.Abort(f"connection lost{f': {exc}' if exc else ''}")
        pending = [*self.pending_async_commands.values(), self.pending_sync_command]
        for command in pending:
            if command is not None and not command._event.is_set():
                command._exception = reason
                command.close(b"connection lost", "KO")

    # aioimaplib's signature: the timeout is the command's own timer, reset by every line received.
    async def fetch(
        self,
        message_set: str,
        message_parts: str,
        by_uid: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any:
        command = _FetchCommand(
            self.new_tag(),
            message_set,
            message_parts,
            prefix="UID" if by_uid else "",
            loop=self.loop,
            timeout=timeout,
        )
        return await self.execute(command)

    async def starttls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        response = await self.execute(aioimaplib.Command("STARTTLS", self.new_tag(), loop=self.loop))
        if response.result != "OK":
            raise ImapConnectionError(f"the server refused STARTTLS: {_text(response)}")
        transport = await self.loop.start_tls(self.transport, self, context, server_hostname=server_hostname)
        self.transport = transport
        await self.capability()  # capabilities before TLS are not to be trusted


class _Client(aioimaplib.IMAP4):  # type: ignore[misc]
    def __init__(self, host: str, port: int, timeout: float, context: ssl.SSLContext | None) -> None:
        super().__init__(host=host, port=port, timeout=timeout, ssl_context=context)

    def create_client(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Any = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        running = loop if loop is not None else asyncio.get_running_loop()
        self.protocol = _Protocol(running, conn_lost_cb)
        self._client_task = running.create_task(
            running.create_connection(lambda: self.protocol, host, port, ssl=ssl_context)
        )


def _text(response: Any) -> str:
    lines = response.lines
    last = lines[-1] if lines else b""
    return bytes(last).decode("utf-8", "replace").strip() or response.result


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    security: Security = "tls"
    timeout: float = 60.0  # seconds without a byte from the server before a command fails
    verify_tls: bool = True

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class ImapSession:
    """One logged-in connection. Methods raise ImapSyncError subclasses, never library errors."""

    def __init__(self, client: _Client, endpoint: Endpoint) -> None:
        self._client = client
        self.endpoint = endpoint
        self._broken = False

    @classmethod
    async def connect(cls, endpoint: Endpoint) -> ImapSession:
        context = _tls_context(endpoint.verify_tls) if endpoint.security != "plain" else None
        client = _Client(
            endpoint.host, endpoint.port, endpoint.timeout, context if endpoint.security == "tls" else None
        )
        session = cls(client, endpoint)
        try:
            await client.wait_hello_from_server()
            if endpoint.security == "starttls" and context is not None:
                await asyncio.wait_for(client.protocol.starttls(context, endpoint.host), endpoint.timeout)
        except ImapSyncError:
            session.abort()
            raise
        except (TimeoutError, OSError, ssl.SSLError, aioimaplib.AioImapException) as exc:
            session.abort()
            raise ImapConnectionError(f"cannot connect to {endpoint}: {_reason(exc)}") from exc
        return session

    @property
    def capabilities(self) -> set[str]:
        return {c.upper() for c in self._client.protocol.capabilities}

    async def login(self, user: str, password: str) -> None:
        """LOGIN (what every provider accepts; some break AUTHENTICATE PLAIN). Where the server
        forbids LOGIN, AUTHENTICATE PLAIN with an initial response."""
        if "LOGINDISABLED" in self.capabilities and "AUTH=PLAIN" in self.capabilities:
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
            command = aioimaplib.Command("AUTHENTICATE", self._client.protocol.new_tag(), "PLAIN", token)
            response = await self._run(self._client.protocol.execute(command, scrub=token), "AUTHENTICATE")
            if response.result == "OK":
                self._client.protocol.state = aioimaplib.AUTH
        else:
            response = await self._run(self._client.login(aioimaplib.quoted(user), password), "LOGIN")
        if response.result != "OK":
            self.abort()  # nothing more to say to a server that refused us
            raise ImapAuthError(f"{self.endpoint} rejected the login of {user}: {_text(response)}")
        # Servers announce more after login (ID, MOVE, SPECIAL-USE); ask rather than read the
        # login reply's text, which aioimaplib splits into words.
        await self._run(self._client.protocol.capability(), "CAPABILITY")

    async def identify(self, name: str, version: str) -> None:
        """RFC 2971 ID, when the server offers it: 163/126/yeah.net refuse SELECT without it."""
        if "ID" in self.capabilities:
            response = await self._run(self._client.id(name=name, version=version), "ID")
            if response.result != "OK":
                log.info("%s: the ID command failed (%s); going on", self.endpoint, _text(response))

    async def folders(self) -> list[Folder]:
        response = await self._checked(self._client.list('""', '"*"'), "LIST")
        return parse_list(response.lines)

    async def examine(self, folder: str) -> FolderStatus:
        """Open a folder read-only: nothing the import does can change it."""
        response = await self._checked(
            self._client.protocol.execute(
                aioimaplib.Command("EXAMINE", self._client.protocol.new_tag(), aioimaplib.quoted(folder))
            ),
            f"EXAMINE {folder}",
        )
        self._client.protocol.state = aioimaplib.SELECTED
        try:
            return parse_status(response.lines)
        except ValueError as exc:
            raise ImapCommandError(f"{self.endpoint}: EXAMINE {folder}: {exc}", folder=folder) from exc

    async def uids(self) -> list[int]:
        """Every UID in the selected folder, ascending."""
        response = await self._checked(self._client.uid_search("ALL", charset=None), "UID SEARCH")
        return sorted(parse_search(response.lines))

    async def fetch(self, uids: Sequence[int], parts: str) -> list[FetchItem]:
        """UID FETCH of these UIDs (sent as ascending ranges: some servers refuse other orders)."""
        if not uids:
            return []
        # No limit on the whole: a large message on a slow link takes long, but the command fails
        # after `timeout` seconds without a byte.
        response = await self._checked(
            self._client.uid("fetch", uid_set(uids), parts), "UID FETCH", total=None
        )
        return parse_fetch(response.lines)

    async def logout(self) -> None:
        """Say goodbye if the session still works; close the connection either way."""
        if not self._broken:
            with contextlib.suppress(TimeoutError, OSError, aioimaplib.AioImapException):
                await asyncio.wait_for(self._client.logout(), min(self.endpoint.timeout, 10.0))
        self.abort()
        await asyncio.sleep(0)  # the loop closes the socket on its next turn

    def abort(self) -> None:
        """Drop the connection: after a failure the session is not used again."""
        self._broken = True
        transport = self._client.protocol.transport
        if transport is not None:
            transport.abort()

    async def _run(self, call: Any, what: str, total: float | None = -1.0) -> Any:
        """Await one command; `total` bounds it as a whole (default: twice the timeout)."""
        try:
            return await asyncio.wait_for(call, self.endpoint.timeout * 2 if total == -1.0 else total)
        except (TimeoutError, aioimaplib.CommandTimeout) as exc:
            self.abort()
            raise ImapConnectionError(
                f"{self.endpoint}: {what} timed out after {self.endpoint.timeout:.0f} s of silence"
            ) from exc
        except (OSError, aioimaplib.AioImapException) as exc:
            self.abort()
            raise ImapConnectionError(f"{self.endpoint}: {what} failed: {_reason(exc)}") from exc

    async def _checked(self, call: Any, what: str, total: float | None = -1.0) -> Any:
        response = await self._run(call, what, total)
        if response.result != "OK":
            text = _text(response)
            if _THROTTLED.search(text):
                self.abort()
                raise ImapThrottled(f"{self.endpoint}: {what}: the server asks to wait: {text}")
            raise ImapCommandError(f"{self.endpoint}: {what}: the server answered {text}")
        return response


def uid_set(uids: Sequence[int]) -> str:
    """`1:3,7,9:10` for [1, 2, 3, 7, 9, 10], ascending."""
    ordered = sorted(set(uids))
    ranges: list[str] = []
    start = previous = ordered[0]
    for uid in ordered[1:]:
        if uid != previous + 1:
            ranges.append(f"{start}:{previous}" if previous != start else str(start))
            start = uid
        previous = uid
    ranges.append(f"{start}:{previous}" if previous != start else str(start))
    return ",".join(ranges)


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "no answer in time"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its TLS certificate is not trusted ({exc.verify_message})"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]
