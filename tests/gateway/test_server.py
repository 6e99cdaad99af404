"""GatewaySMTP's own protocol code against aiosmtpd's and RFC 5321's answers: the fast path for
plain addresses and the block reader of DATA."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from aiosmtpd.smtp import SMTP

from mailvault.gateway.server import GatewaySMTP, SessionLimits


def gateway_smtp(data_size_limit: int = 0) -> GatewaySMTP:
    return GatewaySMTP(object(), limits=SessionLimits([], 1), data_size_limit=data_size_limit)


@pytest.mark.parametrize(
    "arg",
    [
        "<a@x.test>",
        "<a@x.test> SIZE=2048 BODY=8BITMIME",
        "<a@x.test>\t SIZE=1",
        "<a@x.test>x",
        "<archive+hans=kunde.de@archive.example>",
        "<o'brien.a-b_c@mail-1.kunde.de>",
        "<a@x.test> (a comment) SIZE=1",
        "<a@x.test>(a comment)",
        "<>",
        '<"a b"@x.test>',
        "<a@[10.0.0.1]>",
        "<@relay.test:a@x.test>",
        "<a..b@x.test>",
        "<.a@x.test>",
        "<a.@x.test>",
        "<a@x..test>",
        "<=?utf-8?q?a?=@x.test>",
        "<jörg@kunde.de>",
        "<a@x.test",
        "a@x.test",
        "",
        "<" + "a" * 64 + "@x.test>",
        "<" + "a" * 65 + "@x.test>",
    ],
)
@pytest.mark.parametrize("local_part_limit", [0, 64])
async def test_plain_paths_parse_as_aiosmtpd_parses_them(arg: str, local_part_limit: int) -> None:
    server = gateway_smtp()
    server.local_part_limit = local_part_limit
    assert server._getaddr(arg) == SMTP._getaddr(server, arg)


def reference(wire: bytes, limit: int) -> tuple[bytes | None, int, bytes]:
    """RFC 5321 §4.5.2 the plain way: the message up to CRLF.CRLF, one leading dot removed from
    every line; its size on the wire; what follows the terminator."""
    data = b"\r\n" + wire
    end = data.find(b"\r\n.\r\n")
    content = data[: end + 2].replace(b"\r\n.", b"\r\n")[2:]
    return (None if limit and end > limit else content), end, data[end + 5 :]


MESSAGES = [
    b".\r\n",  # empty
    b"plain. text. no dot at a line start\r\n.\r\n",
    b"..lead\r\nmid.dle\r\n...three\r\n..\r\nend\r\n.\r\nNOOP\r\n",
    b"x\r\n.\r\n.\r\n",  # a lone dot line right after the terminator belongs to the next command
    b"a\r\n.\r\r\n.\r.\r\n.\r\n",
]


@pytest.mark.parametrize("wire", MESSAGES)
@pytest.mark.parametrize("limit", [0, 12])
async def test_data_split_anywhere_reads_the_same(wire: bytes, limit: int) -> None:
    """Every way of cutting the message in three blocks gives what the plain algorithm gives."""
    expected_content, expected_size, expected_rest = reference(wire, limit)
    for cuts in itertools.combinations_with_replacement(range(len(wire) + 1), 2):
        blocks = [wire[: cuts[0]], wire[cuts[0] : cuts[1]], wire[cuts[1] :]]
        server = gateway_smtp(limit)
        reader = asyncio.StreamReader()
        server._reader = reader

        async def feed(reader: asyncio.StreamReader = reader, blocks: list[bytes] = blocks) -> None:
            for block in blocks:
                if block:
                    reader.feed_data(block)
                await asyncio.sleep(0)
            reader.feed_eof()

        feeding = asyncio.create_task(feed())
        content, size = await server._read_data()
        await feeding
        assert (content, size) == (expected_content, expected_size), cuts
        assert await reader.read(len(wire)) == expected_rest, cuts
