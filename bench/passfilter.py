"""A content filter that only passes mail on: the baseline of bench/smtp.py's relay-mode comparison.

An SMTP server on one port that hands every message to a next hop (Postfix's re-injection smtpd) and
answers the client with the next hop's reply, archiving nothing. It is built from what mailvault's
gateway is built from, minus the archive: mailvault's own SMTP protocol class (aiosmtpd's SMTP with
the block DATA reader, `GatewaySMTP`) in one asyncio event loop, and one persistent aiosmtplib
connection to the next hop per client session (RSET between messages), as relay mode keeps.

    python bench/passfilter.py --port 10025 --next-hop 127.0.0.1:10026
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import sys
from pathlib import Path

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailvault.gateway.server import GatewaySMTP, SessionLimits


class PassSMTP(GatewaySMTP):
    """mailvault's SMTP protocol class with a next-hop connection of its own per client session."""

    def __init__(self, handler: PassHandler, **kwargs: object) -> None:
        super().__init__(handler, **kwargs)  # type: ignore[arg-type]
        self.next_hop: aiosmtplib.SMTP | None = None

    def connection_lost(self, error: Exception | None) -> None:
        client, self.next_hop = self.next_hop, None
        if client is not None:
            task = self.loop.create_task(_quit(client))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        super().connection_lost(error)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        if client.is_connected:
            await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


class PassHandler:
    """aiosmtpd handler: at end of DATA, MAIL + RCPT + DATA to the next hop; its answer is ours."""

    def __init__(self, host: str, port: int, helo: str) -> None:
        self.host = host
        self.port = port
        self.helo = helo

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(server, PassSMTP)
        try:
            client = server.next_hop
            if client is None or not client.is_connected:
                client = server.next_hop = aiosmtplib.SMTP(
                    hostname=self.host, port=self.port, timeout=60, start_tls=False
                )
                await client.connect()
                await client.ehlo(hostname=self.helo)
            else:
                await client.rset()
            _errors, reply = await client.sendmail(
                envelope.mail_from or "", envelope.rcpt_tos, envelope.original_content or b""
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            return f"{first.code} {first.message}"
        except aiosmtplib.SMTPResponseException as exc:
            return f"{exc.code} {exc.message}"
        except (aiosmtplib.SMTPException, OSError) as exc:
            if server.next_hop is not None:
                server.next_hop.close()
                server.next_hop = None
            return f"451 4.4.1 Next hop unavailable ({type(exc).__name__}); please try again later"
        return f"250 2.0.0 Ok (next hop: {reply[:120]})"


async def serve(port: int, next_hop: str) -> None:
    host, _, hop_port = next_hop.rpartition(":")
    handler = PassHandler(host.strip("[]") or "127.0.0.1", int(hop_port), "passfilter.bench.test")
    limits = SessionLimits([ipaddress.ip_network("127.0.0.0/8")], max_sessions=1000)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: PassSMTP(
            handler,
            limits=limits,
            data_size_limit=None,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname="passfilter.bench.test",
            ident="passfilter",
            timeout=300,
        ),
        host="127.0.0.1",
        port=port,
        reuse_address=True,
    )
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    loop.add_signal_handler(signal.SIGINT, stopped.set)
    async with server:
        await stopped.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True, help="port to listen on (127.0.0.1)")
    parser.add_argument("--next-hop", required=True, help="host:port to pass every message to")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.next_hop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
