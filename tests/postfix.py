"""A private Postfix instance (Debian's `postfix`, run as root) for end-to-end tests and benchmarks,
and `SmtpSink`, a Python SMTP server in a thread that records what Postfix delivers to it.

Every Postfix command gets `-c <own config dir>`: the system instance in /etc/postfix is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.servers import free_port

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
POSTQUEUE = "/usr/sbin/postqueue"
POSTSUPER = "/usr/sbin/postsuper"
SYSTEM_CONFIG = Path("/etc/postfix")
QUEUE_NAMES = ("maildrop", "incoming", "active", "deferred", "hold")
HOLD_RESTRICTIONS = "check_client_access static:HOLD, permit_mynetworks, reject"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class PostfixError(RuntimeError):
    """A Postfix command failed; the message carries its output and the end of the maillog."""


def postfix_unavailable() -> str | None:
    """Why a private Postfix cannot run here (for `pytest.skip`), or None if it can."""
    if not Path(POSTFIX).is_file() or not SYSTEM_CONFIG.is_dir():
        return "Postfix is not installed (apt-get install -y postfix)"
    if os.geteuid() != 0:
        return "a private Postfix needs root (postfix start refuses otherwise)"
    return None


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One message in the Postfix queue, as `postqueue -j` lists it."""

    queue_id: str
    queue_name: str  # maildrop, incoming, active, deferred or hold
    sender: str
    recipients: tuple[str, ...]
    size: int
    delay_reasons: tuple[str, ...]  # why delivery was deferred, per recipient that has a reason


class PostfixInstance:
    """A Postfix of its own in a temp dir, listening on free 127.0.0.1 ports; for tests and benchmarks.

    Configurations (combine as needed; all ports are on 127.0.0.1):

    - `hold=True`: Postfix's own durable accept. Every message is queued (fsynced) and answered 250,
      then parked in `hold/`, never delivered (`smtpd_recipient_restrictions = check_client_access
      static:HOLD, permit_mynetworks, reject`).
    - `relay_port=P`: final delivery of all mail to `relayhost = [127.0.0.1]:P` (e.g. an `SmtpSink`).
      Without it nothing leaves the instance: the relayhost is a loopback port the instance keeps bound
      but closed, so mail is deferred ("Connection refused").
    - `filter_port=P`: after-queue content filter (FILTER_README) through mailvault in relay mode:
      `content_filter = mailvault:[127.0.0.1]:P` on the main smtpd, a `mailvault` smtp transport, and
      a re-injection smtpd on `reinject_port` (give that to mailvault as `[smtp] next_hop`).
    - `tap_port=P`: journal tap. `recipient_bcc_maps` and `sender_bcc_maps` add the recipient
      `archive+user=domain@<tap_domain>` for every envelope address, the sender's included;
      `transport_maps` sends `<tap_domain>` to `smtp:[127.0.0.1]:P` (mailvault in journal mode with
      `journal_domain = tap_domain`). Postfix delivers them as one copy with one RCPT TO each; the
      original goes on to `relay_port`.

    Retries are fast (`minimal_backoff_time` 1 s, `maximal_backoff_time` 2 s, `queue_run_delay` 1 s),
    so deferred mail is retried within seconds; `flush()` retries at once. `main` sets or overrides
    any main.cf parameter. `port` and `reinject_port` are chosen free unless given (chosen ones are
    chosen again if taken at start). `parent`: where the instance's temp dir goes (default: the
    system's); every folder above it must be searchable by all users, so not pytest's `tmp_path`.
    Use as a context manager, or `start()` then `close()`.
    """

    def __init__(
        self,
        *,
        hold: bool = False,
        relay_port: int | None = None,
        filter_port: int | None = None,
        tap_port: int | None = None,
        tap_domain: str = "archive.example",
        message_size_limit: int = 10_240_000,
        main: Mapping[str, str] | None = None,
        port: int | None = None,
        reinject_port: int | None = None,
        parent: Path | None = None,
    ) -> None:
        reason = postfix_unavailable()
        if reason:
            raise PostfixError(reason)
        self.hold = hold
        self.relay_port = relay_port
        self.filter_port = filter_port
        self.tap_port = tap_port
        self.tap_domain = tap_domain
        self.message_size_limit = message_size_limit
        self.extra_main = dict(main or {})
        self._fixed_ports = port is not None, reinject_port is not None
        self.port: int = port or free_port()
        """The main smtpd: where tests and smtp-source send mail."""
        self.reinject_port: int | None = (reinject_port or free_port()) if filter_port else None
        """With `filter_port`: the re-injection smtpd mailvault's relay mode hands mail back to."""
        self.name = f"mvtest-{secrets.token_hex(4)}"
        """Unique per instance: `syslog_name`, and `<name>.mailvault.test` is `myhostname`."""
        self.hostname = f"{self.name}.mailvault.test"
        if parent is not None:
            _check_reachable(parent)
        self.base = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=parent))
        self.base.chmod(0o755)  # Postfix daemons run as the postfix user below it
        self.config_dir = self.base / "conf"
        self.queue_dir = self.base / "queue"
        self.data_dir = self.base / "data"
        self.maillog = self.base / "maillog"
        self._master_cf = ""
        self._running = False
        self._closed = False
        self._closed_socket: socket.socket | None = None
        self._env = {**os.environ, "MAIL_CONFIG": str(self.config_dir)}
        self._env.pop("MAIL_DEBUG", None)
        try:
            self._write_config()
        except BaseException:
            self.close()
            raise

    # -- configuration -----------------------------------------------------------------------

    def main_settings(self) -> dict[str, str]:
        """The main.cf parameters this instance sets on top of a copy of /etc/postfix/main.cf."""
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.data_dir),
            "meta_directory": str(self.config_dir),
            "syslog_name": self.name,
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.base),
            "myhostname": self.hostname,
            "mydomain": "mailvault.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "relay_domains": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_banner": "$myhostname ESMTP Postfix (mailvault test instance)",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtpd_recipient_restrictions": HOLD_RESTRICTIONS if self.hold else "permit_mynetworks, reject",
            "smtpd_tls_security_level": "none",
            "smtp_tls_security_level": "none",
            "smtp_dns_support_level": "disabled",
            "message_size_limit": str(self.message_size_limit),
            "mailbox_size_limit": "0",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "queue_run_delay": "1s",
            "delay_warning_time": "0",
            "biff": "no",
            # Without relay_port: a port this instance holds bound but closed, so mail is deferred
            # ("Connection refused") and never leaves the machine.
            "relayhost": f"[127.0.0.1]:{self.relay_port or self._closed_port()}",
            "default_transport": "smtp",
            "content_filter": f"mailvault:[127.0.0.1]:{self.filter_port}" if self.filter_port else "",
        }
        if self.tap_port:
            bcc = f"regexp:{self.config_dir / 'archive_bcc'}"
            settings |= {
                "recipient_bcc_maps": bcc,
                "sender_bcc_maps": bcc,
                "transport_maps": f"texthash:{self.config_dir / 'transport'}",
            }
        return settings | self.extra_main

    def _closed_port(self) -> int:
        """A loopback port bound (never listening) for the instance's lifetime: connections are refused."""
        if self._closed_socket is None:
            self._closed_socket = socket.socket()
            self._closed_socket.bind(("127.0.0.1", 0))
        return int(self._closed_socket.getsockname()[1])

    def master_entries(self) -> str:
        """The master.cf services this instance adds (the default `smtp inet` on port 25 is removed)."""
        entries = [f"127.0.0.1:{self.port} inet n - n - - smtpd"]
        if self.filter_port:
            entries += [
                "mailvault unix - - n - 20 smtp",
                "  -o smtp_data_done_timeout=1200s",
                "  -o smtp_send_xforward_command=yes",
                "  -o disable_mime_output_conversion=yes",
                f"127.0.0.1:{self.reinject_port} inet n - n - 20 smtpd",
                "  -o content_filter=",
                "  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters",
                "  -o smtpd_recipient_restrictions=permit_mynetworks,reject",
                "  -o mynetworks=127.0.0.0/8",
                "  -o smtpd_authorized_xforward_hosts=127.0.0.0/8",
            ]
        return "\n".join(entries) + "\n"

    def _write_config(self) -> None:
        shutil.copytree(SYSTEM_CONFIG, self.config_dir, symlinks=False)  # resolves makedefs.out
        self.queue_dir.mkdir(mode=0o755)  # root-owned; `postfix check` creates its sub-directories
        if self.tap_port:
            (self.config_dir / "archive_bcc").write_text(
                f"# every envelope address, recoverable from the copy's recipient\n"
                f"/^(.*)@(.*)$/ archive+$1=$2@{self.tap_domain}\n"
            )
            (self.config_dir / "transport").write_text(
                f"{self.tap_domain} smtp:[127.0.0.1]:{self.tap_port}\n"
            )
        self._postconf("-e", *(f"{key}={value}" for key, value in self.main_settings().items()))
        self._postconf("-X", "smtpd_tls_cert_file", "smtpd_tls_key_file")  # Debian's snakeoil, if set
        self._postconf("-MX", "smtp/inet")  # the default listener on port 25
        self._postconf("-F", "*/*/chroot = n")  # no chroot: nothing to copy into the queue dir
        master = (self.config_dir / "master.cf").read_text()
        # Debian's `relay` service logs as "postfix/relay": keep this instance's own syslog_name.
        self._master_cf = master.replace("syslog_name=postfix/", f"syslog_name={self.name}/")
        self._write_master()
        self._run([POSTFIX, "-c", str(self.config_dir), "check"])
        (self.queue_dir / "quick-start").touch()  # the first `postfix start` need not check it all again

    def _write_master(self) -> None:
        text = self._master_cf.rstrip("\n") + "\n\n# mailvault test instance\n" + self.master_entries()
        (self.config_dir / "master.cf").write_text(text)

    def configure(self, settings: Mapping[str, str]) -> None:
        """Set main.cf parameters (`postconf -e`), and reload Postfix if it runs."""
        self.extra_main.update(settings)
        self._postconf("-e", *(f"{key}={value}" for key, value in settings.items()))
        if self._running:
            self.reload()

    # -- life cycle --------------------------------------------------------------------------

    def start(self, attempts: int = 5) -> Self:
        """`postfix start`; returns once the master runs and the main port accepts connections.

        Ports chosen by the instance are chosen again if another process took one meanwhile."""
        if self._closed:
            raise PostfixError(f"{self.name} is closed")
        for attempt in range(attempts):
            result = self._run([POSTFIX, "-c", str(self.config_dir), "start"], check=False)
            if result.returncode == 0:
                self._running = True
                self._wait_for_port(self.port, 10.0)
                return self
            # A port taken since it was chosen (the master's bind error reaches no log file).
            moved = False
            if not self._fixed_ports[0] and not _port_free(self.port):
                self.port, moved = free_port(), True
            if self.reinject_port and not self._fixed_ports[1] and not _port_free(self.reinject_port):
                self.reinject_port, moved = free_port(), True
            if not moved or attempt + 1 == attempts:
                break
            self._write_master()
        taken = [p for p in (self.port, self.reinject_port) if p and not _port_free(p)]
        hint = f" (port {', '.join(map(str, taken))} already in use)" if taken else ""
        raise PostfixError(self._failure(f"postfix start{hint}", result))

    def stop(self, timeout: float = 15.0) -> None:
        """`postfix stop`; if the master is still there after `timeout`, `abort` and then SIGKILL."""
        pid = self.master_pid()
        if pid is None:
            self._running = False
            return
        self._run([POSTFIX, "-c", str(self.config_dir), "stop"], check=False)
        if not _wait_gone(pid, timeout):
            self._run([POSTFIX, "-c", str(self.config_dir), "abort"], check=False)
            if not _wait_gone(pid, 5.0):
                for child in [*_children(pid), pid]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)
                _wait_gone(pid, 5.0)
        self._running = False

    def close(self) -> None:
        """Stop Postfix and remove the instance's whole directory (config, queue, log)."""
        if self._closed:
            return
        try:
            self.stop()
        finally:
            self._closed = True
            if self._closed_socket is not None:
                self._closed_socket.close()
            shutil.rmtree(self.base, ignore_errors=True)

    def reload(self) -> None:
        """`postfix reload`: daemons pick up changed configuration."""
        self._run([POSTFIX, "-c", str(self.config_dir), "reload"])

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def running(self) -> bool:
        """Whether this instance's master process is alive."""
        return self.master_pid() is not None

    def master_pid(self) -> int | None:
        """The master daemon's process id, from `queue/pid/master.pid`, if it runs."""
        try:
            pid = int((self.queue_dir / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _alive(pid) else None

    def pids(self) -> list[int]:
        """The master and every daemon it started (smtpd, cleanup, qmgr, ...)."""
        master = self.master_pid()
        return [] if master is None else [master, *_children(master)]

    def cpu_seconds(self) -> float:
        """User + system CPU of all of this instance's processes so far, exited daemons included
        (the master reaps them, so their time is in its cutime/cstime). 0.0 if not running."""
        master = self.master_pid()
        return 0.0 if master is None else tree_cpu_seconds(master)

    # -- queue -------------------------------------------------------------------------------

    def queue(self) -> list[QueuedMessage]:
        """Every queued message (held ones included), from `postqueue -j`."""
        result = self._run([POSTQUEUE, "-c", str(self.config_dir), "-j"])
        found = []
        for line in result.stdout.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            recipients = item.get("recipients") or []
            found.append(
                QueuedMessage(
                    queue_id=str(item["queue_id"]),
                    queue_name=str(item["queue_name"]),
                    sender=str(item.get("sender", "")),
                    recipients=tuple(str(r["address"]) for r in recipients),
                    size=int(item.get("message_size", 0)),
                    delay_reasons=tuple(str(r["delay_reason"]) for r in recipients if r.get("delay_reason")),
                )
            )
        return found

    def queue_ids(self, queue_name: str | None = None) -> list[str]:
        """Queue ids of all queued messages, or of one queue ("deferred", "hold", ...)."""
        return [m.queue_id for m in self.queue() if queue_name is None or m.queue_name == queue_name]

    def queue_is_empty(self) -> bool:
        """No message in any queue, held ones included."""
        return not self.queue()

    def queue_file_count(self, queue_name: str = "hold") -> int:
        """Files in one queue directory, counted on disk (fast, for thousands of held messages)."""
        directory = self.queue_dir / queue_name
        return sum(len(files) for _root, _dirs, files in os.walk(directory))

    def wait_until_empty(self, timeout: float = 30.0, *, flush_every: float = 0.0) -> None:
        """Wait until the queue is empty; raise TimeoutError (with the queue and log tail) after
        `timeout` s. With `flush_every`, also `flush()` at that interval."""
        deadline = time.monotonic() + timeout
        flushed = time.monotonic()
        while True:
            queued = self.queue()
            if not queued:
                return
            now = time.monotonic()
            if now > deadline:
                listing = "\n".join(f"  {m}" for m in queued)
                raise TimeoutError(
                    f"{self.name}: {len(queued)} message(s) still queued after {timeout} s:\n{listing}\n"
                    f"maillog tail:\n{self.log_tail()}"
                )
            if flush_every and now - flushed >= flush_every:
                self.flush()
                flushed = now
            time.sleep(0.1)

    def flush(self) -> None:
        """`postqueue -f`: attempt delivery of all deferred mail now."""
        self._run([POSTQUEUE, "-c", str(self.config_dir), "-f"])

    def release_held(self) -> None:
        """`postsuper -H ALL`: move held messages back to the normal queue."""
        self._run([POSTSUPER, "-c", str(self.config_dir), "-H", "ALL"])

    def delete_all(self) -> None:
        """`postsuper -d ALL`: delete every queued message."""
        self._run([POSTSUPER, "-c", str(self.config_dir), "-d", "ALL"])

    # -- log ---------------------------------------------------------------------------------

    def log(self) -> str:
        """The instance's whole maillog (`maillog_file`: written by postlogd, no syslog needed)."""
        try:
            return self.maillog.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the maillog, for error messages."""
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_for_log(self, pattern: str, timeout: float = 30.0, *, start: int = 0) -> re.Match[str]:
        """Wait until the maillog (from character `start`) matches the regular expression `pattern`."""
        compiled = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            found = compiled.search(self.log(), start)
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.name}: no log line matched {pattern!r} in {timeout} s; tail:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    # -- helpers -----------------------------------------------------------------------------

    def _postconf(self, *args: str) -> None:
        self._run([POSTCONF, "-c", str(self.config_dir), *args])

    def _run(self, command: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        if Path(command[2]).resolve() == SYSTEM_CONFIG.resolve():  # "-c" DIR is always command[1:3]
            raise PostfixError("refusing to run a Postfix command on the system configuration")
        result = subprocess.run(
            command, capture_output=True, text=True, env=self._env, cwd=self.base, check=False, timeout=120
        )
        if check and result.returncode != 0:
            raise PostfixError(self._failure(" ".join(command[:1] + command[3:]), result))
        return result

    def _failure(self, what: str, result: subprocess.CompletedProcess[str]) -> str:
        output = (result.stdout + result.stderr).strip()
        return f"{self.name}: {what} exited {result.returncode}: {output}\nmaillog tail:\n{self.log_tail()}"

    def _wait_for_port(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise PostfixError(
                        f"{self.name}: port {port} not accepting connections\n{self.log_tail()}"
                    ) from None
                time.sleep(0.05)

    def __repr__(self) -> str:
        return f"<PostfixInstance {self.name} port={self.port} base={self.base}>"


# ---------------------------------------------------------------------------------------------
# Processes.


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3, the state, is index 0)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _check_reachable(directory: Path) -> None:
    """Postfix daemons open files by absolute path as the `postfix` user: every folder above the
    instance needs search permission for others (pytest's 0700 tmp_path does not have it)."""
    for folder in [directory.resolve(), *directory.resolve().parents]:
        if not folder.stat().st_mode & 0o001:
            raise PostfixError(
                f"{folder} is not searchable by the postfix user (mode "
                f"{folder.stat().st_mode & 0o777:o}); give a parent every user can traverse, or none"
            )


def _port_free(port: int) -> bool:
    """Whether a listener could bind 127.0.0.1:`port` (as Postfix does, with SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")  # a zombie has exited


def _children(parent: int) -> list[int]:
    """Every live descendant of `parent`."""
    by_parent: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                by_parent.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [parent]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its live descendants, with the children each has reaped
    (cutime/cstime): monotonic as processes come and go, as long as `pid` itself lives."""
    ticks = 0
    for member in [pid, *_children(pid)]:
        fields = _stat_fields(member)
        if fields is not None:  # utime, stime, cutime, cstime are stat fields 14-17
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / _CLOCK_TICKS


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# ---------------------------------------------------------------------------------------------
# A sink that records deliveries.


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as the sink received it: the envelope and the exact bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer: str


class _Recorder:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        reply = self.sink.reply
        if reply.startswith("250"):
            delivery = Delivery(envelope.mail_from or "", tuple(envelope.rcpt_tos), data, str(peer))
            with self.sink._lock:
                self.sink._deliveries.append(delivery)
                self.sink._arrived.notify_all()
        return reply


class SmtpSink:
    """An SMTP server on 127.0.0.1 in a thread (aiosmtpd) that records every message it accepts.

    Give its `port` to `PostfixInstance(relay_port=...)`. Set `reply` (e.g. "451 4.3.0 try later")
    to make it refuse messages instead; refused ones are not recorded."""

    def __init__(self, port: int | None = None, *, hostname: str = "sink.mailvault.test") -> None:
        self.port = port or free_port()
        self.reply = "250 2.0.0 Ok: delivered to the sink"
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._controller = Controller(
            _Recorder(self),
            hostname="127.0.0.1",
            port=self.port,
            server_hostname=hostname,
            data_size_limit=None,
            enable_SMTPUTF8=True,
        )

    def start(self) -> Self:
        """Start listening."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening (what was recorded stays readable)."""
        with contextlib.suppress(AssertionError):  # not started
            self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def deliveries(self) -> list[Delivery]:
        """Everything accepted so far, in arrival order."""
        with self._lock:
            return list(self._deliveries)

    def clear(self) -> None:
        """Forget what was recorded."""
        with self._lock:
            self._deliveries.clear()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Delivery]:
        """Wait until at least `count` messages arrived; return them all (TimeoutError otherwise)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._deliveries) >= count, timeout):
                raise TimeoutError(f"sink: {len(self._deliveries)} of {count} messages after {timeout} s")
            return list(self._deliveries)
