"""The IMAP adapter against a real Dovecot: large responses, folder names, failures as one line."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailvault.imapsync.client import (
    Endpoint,
    ImapAuthError,
    ImapConnectionError,
    ImapSession,
    Security,
    _FetchCommand,
    _Protocol,
    uid_set,
)
from mailvault.imapsync.responses import parse_fetch, parse_list
from tests.imap.dovecot import PASSWORD, Dovecot
from tests.imap.proxy import CuttingProxy
from tests.servers import free_port


def small(n: int) -> bytes:
    return f"From: a@x.test\r\nSubject: n{n}\r\nMessage-ID: <n{n}@x.test>\r\n\r\nline {n}\r\n".encode()


async def _login(dovecot: Dovecot, user: str, password: str = PASSWORD) -> ImapSession:
    session = await ImapSession.connect(Endpoint("127.0.0.1", dovecot.port, "plain", timeout=10))
    await session.login(user, password)
    return session


def test_a_20000_message_folder_comes_in_single_responses(dovecot: Dovecot) -> None:
    """aioimaplib 2.0.3 recursed per line (RecursionError past ~1,000 lines in one read) and
    rescanned its buffer per line: the adapter reads the whole folder in one FETCH of each kind."""
    user = dovecot.add_user()
    messages = [small(n) for n in range(20_000)]
    dovecot.deliver(user, "INBOX", messages)

    async def run() -> tuple[list[int], dict[int | None, int | None], dict[int | None, bytes], float]:
        session = await _login(dovecot, user)
        try:
            status = await session.examine("INBOX")
            assert status.exists == 20_000
            uids = await session.uids()
            sizes = {i.uid: i.size for i in await session.fetch(uids, "(UID RFC822.SIZE)")}
            started = time.perf_counter()
            items = await session.fetch(uids, "(UID BODY.PEEK[])")
            seconds = time.perf_counter() - started
            return uids, sizes, {i.uid: i.sections["BODY[]"] for i in items}, seconds
        finally:
            await session.logout()

    uids, sizes, bodies, _ = asyncio.run(run())
    assert len(uids) == 20_000
    assert set(sizes) == set(bodies) == set(uids)
    assert [bodies[uid] for uid in uids] == messages  # every byte, in delivery order
    assert all(sizes[uid] == len(bodies[uid]) for uid in uids)


def test_folders_are_listed_with_their_chinese_names(dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    dovecot.folder(user, "已发送")
    dovecot.folder(user, "其他文件夹/工作")

    async def run() -> list[tuple[str, str, bool]]:
        session = await _login(dovecot, user)
        try:
            return [(f.name, f.display, f.selectable) for f in await session.folders()]
        finally:
            await session.logout()

    folders = asyncio.run(run())
    assert ("&XfJT0ZAB-", "已发送", True) in folders
    assert ("&UXZO1mWHTvZZOQ-/&XeVPXA-", "其他文件夹/工作", True) in folders
    assert ("INBOX", "INBOX", True) in folders


def test_a_wrong_password_is_an_authentication_error_in_one_line(dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    with pytest.raises(ImapAuthError) as caught:
        asyncio.run(_login(dovecot, user, "wrong"))
    assert "rejected the login" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_no_server_is_a_connection_error() -> None:
    port = free_port()
    with pytest.raises(ImapConnectionError, match=f"cannot connect to 127.0.0.1:{port}"):
        asyncio.run(ImapSession.connect(Endpoint("127.0.0.1", port, "plain", timeout=5)))


def test_a_connection_cut_mid_response_fails_the_command_at_once(dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    dovecot.deliver(user, "INBOX", [small(n) * 50 for n in range(200)])

    async def run() -> float:
        session = await ImapSession.connect(Endpoint("127.0.0.1", proxy.port, "plain", timeout=30))
        try:
            await session.login(user, PASSWORD)
            await session.examine("INBOX")
            started = time.monotonic()
            with pytest.raises(ImapConnectionError, match="connection lost"):
                await session.fetch(list(range(1, 201)), "(UID BODY.PEEK[])")
            return time.monotonic() - started
        finally:
            session.abort()

    proxy = CuttingProxy(dovecot.port, cut_after=200_000)
    try:
        assert asyncio.run(run()) < 5, "a dropped connection must not wait for the command timeout"
        assert proxy.cut == 1
    finally:
        proxy.close()


def test_uid_sets_are_ascending_ranges() -> None:
    assert uid_set([9, 1, 2, 3, 7, 10]) == "1:3,7,9:10"
    assert uid_set([5]) == "5"


# -- response parsing, without a server ---------------------------------------------------------


def test_fetch_items_with_attributes_after_the_literal() -> None:
    """Gmail sends UID and FLAGS after BODY[]; Dovecot before. Both read the same."""
    lines: list[bytes | bytearray] = [
        b"1 FETCH (BODY[] {5}",
        bytearray(b"hello"),
        b' UID 42 FLAGS (\\Seen) INTERNALDATE "01-Feb-2025 08:09:10 +0800")',
        b"2 FETCH (UID 43 RFC822.SIZE 3 BODY[] {3}",
        bytearray(b"abc"),
        b")",
        b"Fetch completed.",
    ]
    first, second = parse_fetch(lines)
    assert (first.uid, first.flags, first.sections["BODY[]"]) == (42, ("\\Seen",), b"hello")
    assert first.internaldate is not None
    assert first.internaldate.isoformat() == "2025-02-01T08:09:10+08:00"
    assert (second.uid, second.size, second.sections["BODY[]"]) == (43, 3, b"abc")


def test_list_with_quoted_and_literal_names() -> None:
    lines: list[bytes | bytearray] = [
        b'(\\HasNoChildren \\Sent) "/" "Sent Messages"',
        b'(\\Noselect) "/" {6}',
        bytearray(b'Odd"Na'),
        b"(\\HasNoChildren) NIL INBOX",
        b"List completed.",
    ]
    sent, odd, inbox = parse_list(lines)
    assert (sent.name, sent.special_use, sent.selectable) == ("Sent Messages", "\\Sent", True)
    assert (odd.name, odd.selectable) == ('Odd"Na', False)
    assert (inbox.name, inbox.delimiter) == ("INBOX", "")


_RESPONSE = (
    b"* 1 FETCH (UID 7 BODY[] {12}\r\nline1\r\nline2)\r\n"
    b"* 2 FETCH (UID 8 BODY[] {0}\r\n)\r\n"
    b"* 3 FETCH (UID 9 FLAGS (\\Seen) BODY[] {5}\r\n(((()\r\n"
    b"A1 OK Fetch completed.\r\n"
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(_RESPONSE) - 1), max_size=12, unique=True))
def test_a_response_reads_the_same_however_tcp_splits_it(cuts: list[int]) -> None:
    """The loop that replaced aioimaplib's recursive reader, fed the same bytes in any chunks."""

    async def run() -> list[object]:
        protocol = _Protocol(asyncio.get_running_loop())
        protocol.state = "SELECTED"
        command = _FetchCommand("A1", "1:3", "(UID BODY[])", prefix="UID", loop=asyncio.get_running_loop())
        protocol.pending_async_commands["FETCH"] = command
        points = [0, *sorted(cuts), len(_RESPONSE)]
        for start, end in itertools.pairwise(points):
            protocol.data_received(_RESPONSE[start:end])
        await asyncio.wait_for(command.wait(), 1)
        return [(i.uid, i.sections.get("BODY[]"), i.flags) for i in parse_fetch(command.response.lines)]

    assert asyncio.run(run()) == [
        (7, b"line1\r\nline2", ()),
        (8, b"", ()),
        (9, b"(((()", ("\\Seen",)),
    ]


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_and_starttls_sessions_read_mail(tls_dovecot: Dovecot, security: Security) -> None:
    user = tls_dovecot.add_user()
    tls_dovecot.deliver(user, "INBOX", [small(1)])
    port = tls_dovecot.tls_port if security == "tls" else tls_dovecot.port

    async def run() -> bytes:
        endpoint = Endpoint("127.0.0.1", port, security, timeout=10, verify_tls=False)  # self-signed
        session = await ImapSession.connect(endpoint)
        try:
            await session.login(user, PASSWORD)
            await session.examine("INBOX")
            [item] = await session.fetch([1], "(UID BODY.PEEK[])")
            return item.sections["BODY[]"]
        finally:
            await session.logout()

    assert asyncio.run(run()) == small(1)


def test_an_untrusted_certificate_is_refused_in_one_line(tls_dovecot: Dovecot) -> None:
    endpoint = Endpoint("127.0.0.1", tls_dovecot.tls_port, "tls", timeout=10)
    with pytest.raises(ImapConnectionError, match="not trusted") as caught:
        asyncio.run(ImapSession.connect(endpoint))
    assert "\n" not in str(caught.value)
