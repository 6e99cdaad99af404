"""`mailvault serve` and `mailvault smtp`: every long-running service in one event loop.

Shutdown order, on SIGTERM or SIGINT:
  1. stop accepting SMTP connections (listeners close);
  2. let sessions in flight finish, for at most [smtp] grace seconds, then cut the rest (a cut
     session never got its 250, so its sender still holds the message and retries);
  3. finish the spool's last group commit and close the spool;
  4. the drain process (gateway/drain_worker.py) archives what is left in the spool and exits
     (what cannot be archived now, e.g. with the database down, stays for the next start);
     the indexer process (index/worker.py), told at step 1, finishes its batch and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import Callable
from functools import partial

from mailvault.config import ListenerSettings, Settings
from mailvault.errors import ConfigError
from mailvault.gateway import drain_worker
from mailvault.gateway.auth import Authenticator, read_users
from mailvault.gateway.handler import GatewayHandler, ListenerPolicy
from mailvault.gateway.relay import NextHop
from mailvault.gateway.server import (
    GatewaySMTP,
    SessionLimits,
    default_hostname,
    parse_networks,
    start_listener,
)
from mailvault.imapsync import worker as imap_worker
from mailvault.index import worker as index_worker
from mailvault.journal.spool import Spool
from mailvault.signals import worker as signal_worker
from mailvault.workers import supervise

log = logging.getLogger(__name__)


async def run(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    with_indexer: bool = False,
    with_sync: bool = False,
    with_web: bool = False,
    with_signals: bool = False,
) -> None:
    """Run the gateway and its drain worker (and with_indexer, the search indexer; with_sync, the
    IMAP sync; with_web, the web app; with_signals, the risk-signal detectors) until `stop` is set
    or a signal arrives."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await _serve(settings, stop, with_indexer, with_sync, with_web, with_signals)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def _serve(
    settings: Settings,
    stop: asyncio.Event,
    with_indexer: bool,
    with_sync: bool,
    with_web: bool,
    with_signals: bool,
) -> None:
    smtp = settings.smtp
    _check_relay_settings(settings)
    spool = Spool(settings.resolved_spool_dir, smtp.segment_size)
    limits = SessionLimits(parse_networks(smtp.allowed_networks), smtp.max_sessions)
    _warn_about_risky_settings(settings)
    servers = []
    try:
        for listener in smtp.listeners:
            factory = _protocol_factory(settings, spool, limits, listener)
            servers.append(await start_listener(factory, listener.address, listener.port))
            log.info("listening on %s:%d (%s mode)", listener.address, listener.port, listener.mode)
        spool_closed = asyncio.Event()
        async with asyncio.TaskGroup() as tasks:
            drain = tasks.create_task(
                supervise(
                    "mailvault-drain",
                    drain_worker.drain_until_closed,
                    (settings, spool.directory, spool.state),
                    stopping=spool_closed,
                    stop_by_closing_lifeline=False,  # it archives what is left, then exits
                )
            )
            if with_indexer:
                tasks.create_task(
                    supervise(
                        "mailvault-indexer",
                        index_worker.index_until_stopped,
                        (settings,),
                        stopping=stop,
                        stop_by_closing_lifeline=True,
                    )
                )
            if with_sync:
                tasks.create_task(
                    supervise(
                        "mailvault-imap-sync",
                        imap_worker.sync_until_stopped,
                        (settings,),
                        stopping=stop,
                        stop_by_closing_lifeline=True,
                    )
                )
            if with_signals:
                tasks.create_task(
                    supervise(
                        "mailvault-signals",
                        signal_worker.scan_until_stopped,
                        (settings,),
                        stopping=stop,
                        stop_by_closing_lifeline=True,
                    )
                )
            if with_web:
                from mailvault.web import worker as web_worker  # FastAPI is slow to import: only here

                tasks.create_task(
                    supervise(
                        "mailvault-web",
                        web_worker.web_until_stopped,
                        (settings,),
                        stopping=stop,
                        stop_by_closing_lifeline=True,
                    )
                )
            await stop.wait()
            log.info("stopping: no new SMTP connections; %d session(s) in flight", len(limits.active))
            for server in servers:
                server.close()
            await _let_sessions_finish(limits, smtp.grace)
            await spool.close()
            spool_closed.set()
            await drain
    finally:
        for server in servers:
            server.close()
        await spool.close()


def _protocol_factory(
    settings: Settings, spool: Spool, limits: SessionLimits, listener: ListenerSettings
) -> Callable[[], GatewaySMTP]:
    smtp = settings.smtp
    hostname = default_hostname(smtp.hostname)
    next_hop = NextHop.parse(smtp.next_hop, helo=hostname) if listener.mode == "relay" else None
    handler = GatewayHandler(
        spool,
        ListenerPolicy(
            mode=listener.mode,
            max_recipients=smtp.max_recipients,
            journal_domain=smtp.journal_domain,
            next_hop=next_hop,
            company_domains=tuple(settings.archive.company_domains),
        ),
    )
    return partial(
        GatewaySMTP,
        handler,
        limits=limits,
        tls_context=tls_context(settings),
        require_starttls=smtp.require_tls,
        auth_required=smtp.require_auth,
        auth_require_tls=True,
        authenticator=Authenticator(read_users(smtp.auth_users_file)) if smtp.auth_users_file else None,
        data_size_limit=smtp.max_message_size,
        enable_SMTPUTF8=True,
        decode_data=False,
        hostname=hostname,
        ident="mailvault",
        timeout=smtp.timeout,
    )


async def _let_sessions_finish(limits: SessionLimits, grace: float) -> None:
    if limits.active:
        await _wait(limits.idle, grace)
    for session in list(limits.active):
        if session.transport is not None:
            session.transport.close()
    if limits.active:
        log.warning("closed %d session(s) still open after %.0f s of grace", len(limits.active), grace)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    smtp = settings.smtp
    if smtp.require_auth and smtp.auth_users_file is None:
        raise ConfigError("[smtp] require_auth needs [smtp] auth_users_file")
    if smtp.tls_cert is None:
        if smtp.require_tls or smtp.auth_users_file is not None:
            raise ConfigError("[smtp] require_tls and SMTP AUTH need [smtp] tls_cert and tls_key")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(smtp.tls_cert, smtp.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[smtp] tls_cert {smtp.tls_cert} / tls_key {smtp.tls_key}: {exc}") from exc
    return context


def _check_relay_settings(settings: Settings) -> None:
    smtp = settings.smtp
    if not any(listener.mode == "relay" for listener in smtp.listeners):
        return
    if not smtp.next_hop:
        raise ConfigError("[smtp] a relay listener needs [smtp] next_hop (host:port of the next MTA)")
    host, _, port = smtp.next_hop.rpartition(":")
    if not port.isdigit() or not host:
        raise ConfigError(f"[smtp] next_hop = {smtp.next_hop!r}: expected host:port, e.g. 127.0.0.1:10026")
    for listener in smtp.listeners:
        if host.strip("[]") == listener.address and int(port) == listener.port:
            raise ConfigError(f"[smtp] next_hop {smtp.next_hop} is mailvault's own listener: mail would loop")


def _warn_about_risky_settings(settings: Settings) -> None:
    for network in settings.smtp.allowed_networks:
        if network in ("0.0.0.0/0", "::/0"):
            log.warning("[smtp] allowed_networks includes %s: anyone can write into the archive", network)
