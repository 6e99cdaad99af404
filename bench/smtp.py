"""SMTP gateway benchmark (issue 3), in two parts that run in one invocation (or alone with
`--no-relay` / `--no-journal`):

- journal mode against Postfix's own durable accept: both driven with the same `smtp-source` load;
  messages/s, CPU per message and end-of-DATA-to-250 latency per message size, with the ratio
  (target: mailvault at least as fast);
- relay mode: Postfix's after-queue content-filter loop through mailvault, and the same loop through
  bench/passfilter.py, a filter that only passes mail on; delivered messages/s end to end (until
  smtp-sink, the final destination, has them all), with the ratio (target: at least 0.8).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__" and not __package__:
    # Run as `python bench/smtp.py` from anywhere: make `bench` and `tests` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import filesystem_of, find_mailvault, mailvault_version
from tests.postfix import PostfixInstance, postfix_unavailable, tree_cpu_seconds
from tests.servers import free_port

SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
RELAY_TARGET = 0.8  # relay mode: mailvault's loop over the pass-through filter's, delivered msg/s
TARGET_RATIO = 1.0  # mailvault msg/s over Postfix msg/s, at 2 KB and 50 KB
AIM_RATIO = 1.5
TARGET_SIZES = (2 * 1024, 50 * 1024)
LARGE = 1024 * 1024  # sizes from here on use --large-messages
UNITS = {"k": 1024, "m": 1024 * 1024}
MB = 1_000_000


def parse_size(text: str) -> int:
    """`2k` → 2048, `2m` → 2097152, `500` → 500."""
    text = text.strip().lower()
    if text and text[-1] in UNITS:
        return int(float(text[:-1]) * UNITS[text[-1]])
    return int(text)


def size_label(size: int) -> str:
    for unit, factor in (("MB", UNITS["m"]), ("KB", UNITS["k"])):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


# ---------------------------------------------------------------------------------------------
# Latency probe: its own SMTP clients, timing the end of DATA to the reply.


def probe_message(size: int, number: int, client: int) -> bytes:
    """A message shaped like smtp-source's (a few headers, numbered lines of X), `size` body bytes."""
    head = (
        f"From: <probe@x.test>\r\nTo: <b@y.test>\r\n"
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
        f"Message-Id: <probe.{client}.{number}.{time.time_ns()}@x.test>\r\n\r\n"
    ).encode()
    lines = []
    left = size
    index = 1
    while left > 0:
        line = (str(index % 10) + "X" * 77)[: max(left - 2, 1)]
        lines.append(line.encode() + b"\r\n")
        left -= len(line) + 2
        index += 1
    return head + b"".join(lines)


class ProbeError(RuntimeError):
    """The server answered a probe with something other than the expected reply."""


class LatencyProbe(threading.Thread):
    """One SMTP session sending messages back to back; records, per message, the seconds from
    sending the final ".\\r\\n" of DATA to reading the complete reply."""

    def __init__(self, port: int, size: int, client: int) -> None:
        super().__init__(name=f"latency-probe-{client}", daemon=True)
        self.port = port
        self.size = size
        self.client = client
        self.samples: list[tuple[float, float]] = []  # (time of the reply, latency), perf_counter
        self.failures: list[str] = []
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=120) as sock:
                reader = sock.makefile("rb")
                self._expect(reader, "2")
                sock.sendall(b"EHLO probe.bench.test\r\n")
                self._expect(reader, "2")
                number = 0
                while not self._stop_event.is_set():
                    number += 1
                    message = probe_message(self.size, number, self.client)
                    sock.sendall(b"MAIL FROM:<probe@x.test>\r\n")
                    self._expect(reader, "2")
                    sock.sendall(b"RCPT TO:<b@y.test>\r\n")
                    self._expect(reader, "2")
                    sock.sendall(b"DATA\r\n")
                    self._expect(reader, "3")
                    sock.sendall(message)
                    started = time.perf_counter()
                    sock.sendall(b".\r\n")
                    reply = self._expect(reader, "2")
                    done = time.perf_counter()
                    if reply.startswith("250"):
                        self.samples.append((done, done - started))
                sock.sendall(b"QUIT\r\n")
        except (OSError, ProbeError) as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _expect(reader: io.BufferedReader, first_digit: str) -> str:
        """Read one (possibly multi-line) reply; raise unless its code starts with `first_digit`."""
        while True:
            line = reader.readline().decode("ascii", "replace")
            if not line:
                raise ProbeError("connection closed")
            if line[3:4] != "-":
                break
        if not line.startswith(first_digit):
            raise ProbeError(line.strip())
        return line


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


# ---------------------------------------------------------------------------------------------
# One load against one server.


@dataclass
class Load:
    """One measured smtp-source load against one server (mailvault or Postfix) at one size."""

    server: str
    size: int
    sessions: int
    probes: int
    warmup: int
    messages: int  # smtp-source's, counted
    command: str
    probe_messages: int = 0  # acknowledged within the timed window
    probe_total: int = 0  # acknowledged in all, window or not (they are stored too)
    probe_failures: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0  # of the server's processes during the timed window
    cpu_after_seconds: float = 0.0  # from window start until the server was idle again
    settle_seconds: float = 0.0  # how long after the window the server kept working
    latencies_ms: list[float] = field(default_factory=list)
    smtp_source_rc: int = 0
    smtp_source_stderr: str = ""
    acknowledged: int = 0  # warm-up + counted + probe messages, all answered 250
    stored: int = 0  # what the server shows afterwards (archive arrivals or held queue files)
    stored_note: str = ""
    server_errors: list[str] = field(default_factory=list)

    @property
    def counted(self) -> int:
        return self.messages + self.probe_messages

    @property
    def rate(self) -> float:
        return self.counted / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.rate * self.size / MB

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_seconds / self.counted if self.counted else 0.0

    @property
    def cpu_after_ms(self) -> float:
        total = self.messages + self.probe_total
        return 1000 * self.cpu_after_seconds / total if total else 0.0

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 0.99)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["latencies_ms"]
        data.update(
            counted=self.counted,
            rate=round(self.rate, 1),
            mb_per_s=round(self.mb_per_s, 2),
            cpu_ms_per_message=round(self.cpu_ms, 3),
            cpu_ms_per_message_until_idle=round(self.cpu_after_ms, 3),
            latency_samples=len(self.latencies_ms),
            latency_p50_ms=round(self.p50, 2),
            latency_p99_ms=round(self.p99, 2),
            latency_mean_ms=round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else 0.0,
        )
        return data


def smtp_source_command(port: int, count: int, sessions: int, size: int) -> list[str]:
    return [
        SMTP_SOURCE,
        "-d",
        "-m",
        str(count),
        "-s",
        str(sessions),
        "-l",
        str(size),
        "-f",
        "a@x.test",
        "-t",
        "b@y.test",
        f"127.0.0.1:{port}",
    ]


def wait_until_idle(cpu: Callable[[], float], *, quiet: float = 1.0, limit: float = 600.0) -> float:
    """Wait until `cpu()` grows by less than 2 % of one core over `quiet` s; return the seconds waited."""
    started = time.perf_counter()
    history = [(started, cpu())]
    while True:
        time.sleep(0.2)
        now = time.perf_counter()
        history.append((now, cpu()))
        while len(history) > 2 and history[1][0] <= now - quiet:
            history.pop(0)
        then, used = history[0]
        if now - then >= quiet and history[-1][1] - used < 0.02 * (now - then):
            return then - started
        if now - started > limit:
            return now - started


def drive(
    server: str,
    port: int,
    size: int,
    count: int,
    sessions: int,
    warmup: int,
    probes: int,
    cpu: Callable[[], float],
    alive: Callable[[], None],
    probe_size: int | None = None,
) -> Load:
    """Warm up, then time `count` messages from smtp-source with `probes` latency clients alongside."""
    command = smtp_source_command(port, count, sessions, size)
    load = Load(server, size, sessions, probes, warmup, count, shlex.join(command))
    if warmup:
        warm = subprocess.run(
            smtp_source_command(port, warmup, sessions, size), capture_output=True, text=True, check=False
        )
        if warm.returncode != 0:
            alive()
            sys.exit(f"bench: warm-up against {server} failed: {warm.stderr.strip()}")
    wait_until_idle(cpu)
    alive()
    # Probes of another size than the load show whether large messages stall small ones.
    clients = [LatencyProbe(port, probe_size or size, index) for index in range(probes)]
    cpu_before = cpu()
    started = time.perf_counter()
    for client in clients:
        client.start()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    ended = time.perf_counter()
    cpu_window = cpu()
    for client in clients:
        client.stop()
    for client in clients:
        client.join(300)
    load.wall_seconds = ended - started
    load.cpu_seconds = cpu_window - cpu_before
    load.settle_seconds = wait_until_idle(cpu)
    load.cpu_after_seconds = cpu() - cpu_before
    load.smtp_source_rc = result.returncode
    load.smtp_source_stderr = result.stderr.strip()
    for client in clients:
        load.probe_failures += client.failures
        load.probe_total += len(client.samples)
        in_window = [latency for done, latency in client.samples if done <= ended]
        load.probe_messages += len(in_window)
        load.latencies_ms += [1000 * latency for latency in in_window]
    load.acknowledged = warmup + (count if result.returncode == 0 else 0) + load.probe_total
    return load


# ---------------------------------------------------------------------------------------------
# The two servers.


class ServerProcess:
    """A server under test run as a subprocess of its own session, listening on 127.0.0.1:`port`."""

    name = "server"

    def __init__(self, workdir: Path, port: int, command: list[str], env: dict[str, str]) -> None:
        self.workdir = workdir
        self.port = port
        self.command = command
        self.env = env
        self.stderr_path = workdir / f"{self.name}.stderr"
        self.process: subprocess.Popen[bytes] | None = None
        self.shutdown_seconds = 0.0

    def start(self) -> None:
        with self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                self.command, stdout=subprocess.DEVNULL, stderr=err, env=self.env, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while True:
            self.alive()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit(f"bench: {self.name} did not listen on {self.port} within 60 s\n{self.errors()}")
                time.sleep(0.1)

    def alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            sys.exit(f"bench: {self.name} exited ({code})\n{self.stderr_text()[-3000:]}")

    def cpu(self) -> float:
        return tree_cpu_seconds(self.process.pid) if self.process is not None else 0.0

    def stop(self, timeout: float = 1800.0) -> int:
        """SIGTERM, then wait for it to exit (mailvault first drains its spool into the archive)."""
        if self.process is None:
            return -1
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self.shutdown_seconds = time.perf_counter() - started

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def errors(self) -> list[str]:
        return [line for line in self.stderr_text().splitlines() if line.strip()]


class MailvaultGateway(ServerProcess):
    """`mailvault --config CFG smtp` as a subprocess, with its own archive: journal mode, or relay
    mode handing every message to `next_hop`."""

    name = "mailvault"

    def __init__(
        self, workdir: Path, mailvault: list[str], max_size: int, *, port: int = 0, next_hop: str = ""
    ) -> None:
        port = port or free_port()
        mode = "relay" if next_hop else "journal"
        self.config = workdir / "mailvault.toml"
        self.config.write_text(
            "# mailvault settings for bench/smtp.py; everything else is at its default.\n"
            f'[archive]\ndata_dir = "{workdir / "data"}"\n\n'
            "[smtp]\n"
            f'listeners = [{{ address = "127.0.0.1", port = {port}, mode = "{mode}" }}]\n'
            + (f'next_hop = "{next_hop}"\n' if next_hop else "")
            + f"max_message_size = {max_size}\n"
            'hostname = "mailvault.bench.test"\n\n'
            '[log]\nlevel = "WARNING"\n'
        )
        self.mailvault = mailvault
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
        super().__init__(workdir, port, [*mailvault, "--config", str(self.config), "smtp"], env)

    def status(self) -> dict[str, Any]:
        result = subprocess.run(
            [*self.mailvault, "--config", str(self.config), "status", "--json"],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        if result.returncode != 0:
            return {"error": result.stderr.strip()[-2000:]}
        data: dict[str, Any] = json.loads(result.stdout)
        return data


def run_mailvault(
    workdir: Path, mailvault: list[str], size: int, count: int, args: argparse.Namespace, warmup: int
) -> tuple[Load, dict[str, Any]]:
    gateway = MailvaultGateway(workdir, mailvault, max(50 * MB, 4 * size))
    gateway.start()
    try:
        load = drive(
            "mailvault",
            gateway.port,
            size,
            count,
            args.sessions,
            warmup,
            args.probes,
            gateway.cpu,
            gateway.alive,
            args.probe_size,
        )
        code = gateway.stop()
    finally:
        gateway.kill()
    status = gateway.status()
    if "error" in status:
        load.stored_note = f"`mailvault status` failed: {status['error']}"
    else:
        load.stored = int((status.get("arrivals") or {}).get("smtp", 0))
        load.stored_note = (
            f"archive after SIGTERM ({gateway.shutdown_seconds:.1f} s to exit, exit code {code}): "
            f"arrivals.smtp {load.stored:,} (messages {int(status.get('messages', 0)):,})"
        )
    load.server_errors = gateway.errors()
    return load, {"command": shlex.join(gateway.command), "config": gateway.config.read_text(), **status}


def run_postfix(workdir: Path, size: int, count: int, args: argparse.Namespace, warmup: int) -> Load:
    with PostfixInstance(hold=True, message_size_limit=max(10_240_000, 4 * size), parent=workdir) as postfix:
        load = drive(
            "postfix",
            postfix.port,
            size,
            count,
            args.sessions,
            warmup,
            args.probes,
            postfix.cpu_seconds,
            lambda: None,
            args.probe_size,
        )
        load.stored = postfix.queue_file_count("hold")
        load.stored_note = f"queue files in hold/: {load.stored:,}"
        load.server_errors = [
            line
            for line in postfix.log().splitlines()
            if any(w in line for w in ("warning:", "fatal:", "error:"))
        ]
    return load


# ---------------------------------------------------------------------------------------------
# Relay mode: Postfix's content-filter loop through mailvault, and through a filter that only passes
# mail on.


class PassFilter(ServerProcess):
    """bench/passfilter.py as a subprocess: the same SMTP stack as mailvault's relay mode, no archive."""

    name = "passfilter"

    def __init__(self, workdir: Path, port: int, next_hop: str) -> None:
        script = Path(__file__).resolve().with_name("passfilter.py")
        command = [sys.executable, str(script), "--port", str(port), "--next-hop", next_hop]
        super().__init__(workdir, port, command, dict(os.environ))


class SinkLog:
    """Counts, from a Postfix maillog read incrementally, deliveries to the sink and failed ones."""

    def __init__(self, path: Path, sink_port: int) -> None:
        self.path = path
        self.to_sink = f"]:{sink_port}, "
        self.offset = 0
        self.partial = b""
        self.delivered = 0  # status=sent to the sink: the end of the loop
        self.problems: list[str] = []  # status=deferred/bounced on either leg, warnings, errors

    def update(self) -> int:
        try:
            with self.path.open("rb") as log:
                log.seek(self.offset)
                chunk = log.read()
        except FileNotFoundError:
            return self.delivered
        self.offset += len(chunk)
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            if "status=sent" in line:
                if self.to_sink in line:
                    self.delivered += 1
            elif any(
                w in line for w in ("status=deferred", "status=bounced", "warning:", "fatal:", "error:")
            ):
                self.problems.append(line)
        return self.delivered

    def wait_for(self, count: int, *, stall: float = 60.0) -> float:
        """Poll until `count` deliveries; the perf_counter time it was seen (TimeoutError if no
        delivery for `stall` s)."""
        last, progress = self.update(), time.perf_counter()
        while last < count:
            time.sleep(0.02)
            now = self.update()
            if now != last:
                last, progress = now, time.perf_counter()
            elif time.perf_counter() - progress > stall:
                raise TimeoutError(f"{last:,} of {count:,} delivered to the sink; none for {stall:.0f} s")
        return time.perf_counter()


@dataclass
class RelayLoad:
    """One smtp-source load through Postfix → filter → Postfix re-injection → sink, at one size."""

    filter: str  # "mailvault" (relay mode) or "passfilter"
    size: int
    sessions: int
    warmup: int
    messages: int
    command: str
    filter_command: str = ""
    wall_seconds: float = 0.0  # smtp-source's start until the sink's last delivery
    accept_seconds: float = 0.0  # smtp-source's own run: Postfix's main smtpd accepted them all
    filter_cpu_seconds: float = 0.0
    postfix_cpu_seconds: float = 0.0
    delivered: int = 0  # to the sink in all, warm-up included
    left_in_queue: int = 0
    smtp_source_rc: int = 0
    smtp_source_stderr: str = ""
    error: str = ""
    stored: int = -1  # mailvault: SMTP arrivals in its archive afterwards
    stored_note: str = ""
    postfix_problems: list[str] = field(default_factory=list)
    filter_errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.wall_seconds if self.wall_seconds and not self.error else 0.0

    def cpu_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.messages if self.messages else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            rate=round(self.rate, 1),
            mb_per_s=round(self.rate * self.size / MB, 2),
            filter_cpu_ms_per_message=round(self.cpu_ms(self.filter_cpu_seconds), 3),
            postfix_cpu_ms_per_message=round(self.cpu_ms(self.postfix_cpu_seconds), 3),
        )
        return data


def run_relay(
    workdir: Path, which: str, mailvault: list[str], size: int, count: int, warmup: int, sessions: int
) -> RelayLoad:
    """A fresh Postfix with `content_filter` to a fresh filter and a fresh smtp-sink as final hop."""
    workdir.mkdir()
    command = smtp_source_command(0, count, sessions, size)
    load = RelayLoad(which, size, sessions, warmup, count, "")
    sink_port, filter_port = free_port(), free_port()
    sink = subprocess.Popen(
        [SMTP_SINK, "-u", "nobody", f"127.0.0.1:{sink_port}", "256"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    limit = max(10_240_000, 4 * size)
    server: ServerProcess | None = None
    try:
        with PostfixInstance(
            filter_port=filter_port, relay_port=sink_port, message_size_limit=limit, parent=workdir
        ) as postfix:
            next_hop = f"127.0.0.1:{postfix.reinject_port}"
            if which == "mailvault":
                server = MailvaultGateway(workdir, mailvault, 4 * limit, port=filter_port, next_hop=next_hop)
            else:
                server = PassFilter(workdir, filter_port, next_hop)
            server.start()
            load.filter_command = shlex.join(server.command)
            command = smtp_source_command(postfix.port, count, sessions, size)
            load.command = shlex.join(command)
            log = SinkLog(postfix.maillog, sink_port)
            filt = server

            def cpu() -> float:
                return postfix.cpu_seconds() + filt.cpu()

            try:
                if warmup:
                    subprocess.run(
                        smtp_source_command(postfix.port, warmup, sessions, size),
                        capture_output=True,
                        check=False,
                    )
                    log.wait_for(warmup)
                wait_until_idle(cpu)
                server.alive()
                filter_before, postfix_before = server.cpu(), postfix.cpu_seconds()
                started = time.perf_counter()
                result = subprocess.run(command, capture_output=True, text=True, check=False)
                load.accept_seconds = time.perf_counter() - started
                load.smtp_source_rc = result.returncode
                load.smtp_source_stderr = result.stderr.strip()
                ended = log.wait_for(warmup + count)
                load.wall_seconds = ended - started
                load.filter_cpu_seconds = server.cpu() - filter_before
                load.postfix_cpu_seconds = postfix.cpu_seconds() - postfix_before
            except TimeoutError as exc:
                load.error = str(exc)
            time.sleep(0.5)
            load.delivered = log.update()
            load.left_in_queue = sum(
                postfix.queue_file_count(name) for name in ("maildrop", "incoming", "active", "deferred")
            )
            load.postfix_problems = log.problems
            server.stop()
    finally:
        if server is not None:
            server.kill()
        sink.terminate()
        sink.wait()
    if isinstance(server, MailvaultGateway):
        status = server.status()
        if "error" in status:
            load.stored_note = f"`mailvault status` failed: {status['error']}"
        else:
            load.stored = int((status.get("arrivals") or {}).get("smtp", 0))
            load.stored_note = f"archive after SIGTERM: arrivals.smtp {load.stored:,}"
    if server is not None:
        load.filter_errors = server.errors()
    return load


def relay_report(pairs: list[tuple[RelayLoad, RelayLoad]]) -> list[dict[str, Any]]:
    print()
    print(
        "relay mode (issue 3): Postfix content_filter loop through mailvault vs through a filter that\n"
        "only passes mail on (bench/passfilter.py); smtp-sink as final destination"
    )
    summary = []
    for mv, pf in pairs:
        print()
        print(
            f"size {size_label(mv.size)}: {mv.messages:,} messages timed after {mv.warmup:,} warm-up, "
            f"{mv.sessions} smtp-source sessions into Postfix"
        )
        header = f"  {'':<34}{'mailvault':>14}{'passfilter':>14}{'ratio':>9}"
        print(header)
        print("  " + "-" * (len(header) - 2))
        rows = [
            (
                "delivered msg/s (end to end)",
                f"{mv.rate:,.0f}",
                f"{pf.rate:,.0f}",
                f"{_ratio(mv.rate, pf.rate):.2f}x",
            ),
            ("wall s (until the sink has all)", f"{mv.wall_seconds:.2f}", f"{pf.wall_seconds:.2f}", ""),
            ("smtp-source s (Postfix accepted)", f"{mv.accept_seconds:.2f}", f"{pf.accept_seconds:.2f}", ""),
            (
                "filter CPU ms/msg",
                f"{mv.cpu_ms(mv.filter_cpu_seconds):.2f}",
                f"{pf.cpu_ms(pf.filter_cpu_seconds):.2f}",
                f"{_ratio(mv.filter_cpu_seconds, pf.filter_cpu_seconds):.2f}x",
            ),
            (
                "Postfix CPU ms/msg (all daemons)",
                f"{mv.cpu_ms(mv.postfix_cpu_seconds):.2f}",
                f"{pf.cpu_ms(pf.postfix_cpu_seconds):.2f}",
                "",
            ),
            ("delivered to the sink in all", f"{mv.delivered:,}", f"{pf.delivered:,}", ""),
            ("left in Postfix's queue", f"{mv.left_in_queue:,}", f"{pf.left_in_queue:,}", ""),
        ]
        for name, a, b, times in rows:
            print(f"  {name:<34}{a:>14}{b:>14}{times:>9}")
        expected = mv.warmup + mv.messages
        if mv.stored_note:
            verdict = "all archived" if mv.stored == expected else f"MISMATCH (expected {expected:,})"
            print(f"  mailvault: {mv.stored_note}: {verdict}")
        for load in (mv, pf):
            if load.error:
                print(f"  {load.filter}: FAILED: {load.error}")
            if load.smtp_source_rc:
                print(f"  {load.filter}: smtp-source exited {load.smtp_source_rc}: {load.smtp_source_stderr}")
            for what, lines in (("Postfix log", load.postfix_problems), (load.filter, load.filter_errors)):
                if lines:
                    print(f"  {load.filter}: {len(lines)} problem line(s) in the {what}, first ones:")
                    for line in lines[:5]:
                        print(f"    {line[:200]}")
        ratio = _ratio(mv.rate, pf.rate)
        summary.append(
            {"size": mv.size, "ratio": round(ratio, 3), "target": RELAY_TARGET, "pass": ratio >= RELAY_TARGET}
        )
    print()
    print("relay targets (ratio = mailvault delivered msg/s / passfilter delivered msg/s, same run)")
    for (mv, pf), item in zip(pairs, summary, strict=True):
        verdict = "PASS" if item["pass"] else "MISS"
        print(
            f"  {size_label(mv.size):>6}: {mv.rate:>7,.0f} vs {pf.rate:>7,.0f} msg/s"
            f"  ratio {item['ratio']:.2f}x  target >= {RELAY_TARGET:.1f}: {verdict}"
        )
    print()
    print("relay commands")
    for mv, pf in pairs:
        print(f"  $ {mv.command}    # into Postfix's main smtpd (content_filter to the filter)")
        print(f"  $ {mv.filter_command}    # mailvault, relay mode")
        print(f"  $ {pf.filter_command}    # the pass-through filter")
    return [
        {"mailvault": mv.as_dict(), "passfilter": pf.as_dict(), **item}
        for (mv, pf), item in zip(pairs, summary, strict=True)
    ]


# ---------------------------------------------------------------------------------------------
# Report.


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def print_context(argv: list[str], context: dict[str, str], notes: list[str]) -> None:
    print()
    print("mailvault SMTP gateway benchmark (issue 3)")
    print(f"command:   {shlex.join(argv)}")
    for key, value in context.items():
        print(f"{key + ':':<10} {value}")
    for note in notes:
        print(f"note:      {note}")


def report(pairs: list[tuple[Load, Load]]) -> dict[str, Any]:
    print()
    print("journal mode (issue 3): mailvault vs Postfix's own durable accept")
    for mv, pf in pairs:
        print()
        print(
            f"size {size_label(mv.size)} (smtp-source -l {mv.size}): {mv.messages:,} messages timed "
            f"after {mv.warmup:,} warm-up, {mv.sessions} smtp-source sessions + {mv.probes} latency probes"
        )
        header = f"  {'':<34}{'mailvault':>14}{'Postfix hold':>14}{'ratio':>9}"
        print(header)
        print("  " + "-" * (len(header) - 2))
        rows: list[tuple[str, str, str, str]] = [
            ("messages/s (wall)", f"{mv.rate:,.0f}", f"{pf.rate:,.0f}", f"{_ratio(mv.rate, pf.rate):.2f}x"),
            ("MB/s", f"{mv.mb_per_s:,.1f}", f"{pf.mb_per_s:,.1f}", ""),
            ("wall s", f"{mv.wall_seconds:.2f}", f"{pf.wall_seconds:.2f}", ""),
            (
                "CPU ms/msg, timed window",
                f"{mv.cpu_ms:.2f}",
                f"{pf.cpu_ms:.2f}",
                f"{_ratio(mv.cpu_ms, pf.cpu_ms):.2f}x",
            ),
            (
                "CPU ms/msg, until idle",
                f"{mv.cpu_after_ms:.2f}",
                f"{pf.cpu_after_ms:.2f}",
                f"{_ratio(mv.cpu_after_ms, pf.cpu_after_ms):.2f}x",
            ),
            ("busy after the window, s", f"{mv.settle_seconds:.1f}", f"{pf.settle_seconds:.1f}", ""),
            ("latency p50 ms (end of DATA → 250)", f"{mv.p50:.1f}", f"{pf.p50:.1f}", ""),
            ("latency p99 ms", f"{mv.p99:.1f}", f"{pf.p99:.1f}", ""),
            ("latency samples", f"{len(mv.latencies_ms):,}", f"{len(pf.latencies_ms):,}", ""),
            ("acknowledged (250) in all", f"{mv.acknowledged:,}", f"{pf.acknowledged:,}", ""),
            ("stored afterwards", f"{mv.stored:,}", f"{pf.stored:,}", ""),
        ]
        for name, a, b, times in rows:
            print(f"  {name:<34}{a:>14}{b:>14}{times:>9}")
        for load in (mv, pf):
            verdict = "all stored" if load.stored == load.acknowledged else "MISMATCH"
            print(f"  {load.server}: {load.stored_note} vs {load.acknowledged:,} acknowledged: {verdict}")
            if load.smtp_source_rc:
                print(f"  {load.server}: smtp-source exited {load.smtp_source_rc}: {load.smtp_source_stderr}")
            for failure in load.probe_failures:
                print(f"  {load.server}: latency probe failed: {failure}")
            if load.server_errors:
                print(f"  {load.server}: {len(load.server_errors)} warning/error log line(s), first ones:")
                for line in load.server_errors[:5]:
                    print(f"    {line[:200]}")
    print()
    print("how it was measured")
    print(
        "  msg/s: (smtp-source messages + latency-probe messages answered inside the window) / wall time\n"
        "  of smtp-source, after a warm-up and after the server went idle. CPU: user+system of the\n"
        "  server's process tree from /proc (mailvault: the gateway and any children; Postfix: master\n"
        "  and every daemon, exited ones through the master's cutime/cstime), over the timed window and\n"
        "  until the server was idle again (mailvault keeps archiving its spool after the load).\n"
        "  latency: extra raw-socket SMTP sessions of this script (one message after another, no\n"
        "  pipelining), timing from sending the final '.' line of DATA to reading the reply; only\n"
        "  messages answered inside the window. smtp-source and the probes share the 2 CPUs with the server."
    )
    print()
    print("targets (ratio = mailvault msg/s / Postfix msg/s, same run)")
    summary = []
    for mv, pf in pairs:
        ratio = _ratio(mv.rate, pf.rate)
        judged = mv.size in TARGET_SIZES
        verdict = ("PASS" if ratio >= TARGET_RATIO else "MISS") if judged else "(no target)"
        aim = " (aim 1.5 reached)" if judged and ratio >= AIM_RATIO else ""
        print(
            f"  {size_label(mv.size):>6}: {mv.rate:>7,.0f} vs {pf.rate:>7,.0f} msg/s  ratio {ratio:.2f}x"
            f"  target >= {TARGET_RATIO:.1f}: {verdict}{aim}"
        )
        summary.append(
            {
                "size": mv.size,
                "ratio": round(ratio, 3),
                "target": TARGET_RATIO if judged else None,
                "pass": (ratio >= TARGET_RATIO) if judged else None,
            }
        )
    print()
    print("commands")
    for mv, pf in pairs:
        print(f"  $ {mv.command}    # mailvault, port of `mailvault --config CFG smtp`")
        print(f"  $ {pf.command}    # Postfix hold-only instance")
    return {
        "runs": [{"mailvault": mv.as_dict(), "postfix": pf.as_dict()} for mv, pf in pairs],
        "targets": summary,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=2000, help="timed messages per size and server")
    parser.add_argument(
        "--large-messages",
        type=int,
        default=500,
        help=f"timed messages for sizes of {size_label(LARGE)} and more (0: as --messages); at 5-7 msg/s "
        "for 2 MB, 2,000 would take mailvault 5-7 minutes",
    )
    parser.add_argument("--sessions", type=int, default=20, help="concurrent smtp-source sessions")
    parser.add_argument("--sizes", default="2k,50k,2m", help="message sizes (smtp-source -l), e.g. 2k,50k,2m")
    parser.add_argument("--warmup", type=int, default=300, help="untimed messages before each load")
    parser.add_argument("--probes", type=int, default=2, help="latency-probe SMTP sessions during each load")
    parser.add_argument(
        "--probe-size",
        type=parse_size,
        default=None,
        help="size of the probes' messages (default: the load's); e.g. 2k during a 2m load",
    )
    parser.add_argument(
        "--journal",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="journal mode against Postfix's hold-only accept (--no-journal: skip)",
    )
    parser.add_argument(
        "--relay",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="relay mode: Postfix's content-filter loop through mailvault vs bench/passfilter.py",
    )
    parser.add_argument("--relay-sizes", default="2k,50k", help="message sizes of the relay comparison")
    parser.add_argument("--relay-messages", type=int, default=2000, help="timed messages per relay load")
    parser.add_argument(
        "--relay-warmup", type=int, default=200, help="untimed messages before each relay load"
    )
    parser.add_argument("--workdir", type=Path, help="where to put archives and Postfix instances")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    parser.add_argument("--json-out", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()] if args.journal else []
    relay_sizes = [parse_size(s) for s in args.relay_sizes.split(",") if s.strip()] if args.relay else []
    if (args.journal and (not sizes or min(sizes) < 1)) or (
        args.relay and (not relay_sizes or min(relay_sizes) < 1)
    ):
        parser.error("--sizes and --relay-sizes need positive sizes")
    if not args.journal and not args.relay:
        parser.error("--no-journal and --no-relay leave nothing to run")
    reason = postfix_unavailable()
    if reason or not Path(SMTP_SOURCE).is_file() or not Path(SMTP_SINK).is_file():
        sys.exit(f"bench: {reason or 'smtp-source or smtp-sink not found (apt-get install -y postfix)'}")

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="smtp-", dir=args.workdir))
    else:
        workdir = Path(tempfile.mkdtemp(prefix="mailvault-bench-smtp-"))
    workdir.chmod(0o755)  # the Postfix instances live below it
    mailvault = find_mailvault()
    notes: list[str] = []
    pairs: list[tuple[Load, Load]] = []
    statuses: list[dict[str, Any]] = []
    try:
        print(f"bench: working in {workdir}", file=sys.stderr)
        for size in sizes:
            count = args.messages
            warmup = args.warmup
            if size >= LARGE:
                count = args.large_messages or args.messages
                warmup = min(warmup, max(count // 10, 20))
                if count != args.messages:
                    notes.append(
                        f"{size_label(size)}: {count:,} timed messages, not {args.messages:,} "
                        f"(--large-messages), and {warmup} warm-up"
                    )
            print(f"  {size_label(size)}: mailvault, {count:,} messages", file=sys.stderr, flush=True)
            mv_dir = workdir / f"mailvault-{size}"
            mv_dir.mkdir()
            mv, status = run_mailvault(mv_dir, mailvault, size, count, args, warmup)
            print(f"  {size_label(size)}: Postfix, {count:,} messages", file=sys.stderr, flush=True)
            pf = run_postfix(workdir, size, count, args, warmup)
            pairs.append((mv, pf))
            statuses.append(status)
            if not args.keep:
                shutil.rmtree(mv_dir / "data", ignore_errors=True)
        relay_pairs: list[tuple[RelayLoad, RelayLoad]] = []
        for size in relay_sizes:
            loads = []
            for which in ("mailvault", "passfilter"):
                print(
                    f"  relay {size_label(size)}: {which}, {args.relay_messages:,} messages",
                    file=sys.stderr,
                    flush=True,
                )
                where = workdir / f"relay-{which}-{size}"
                loads.append(
                    run_relay(
                        where, which, mailvault, size, args.relay_messages, args.relay_warmup, args.sessions
                    )
                )
                if not args.keep:
                    shutil.rmtree(where / "data", ignore_errors=True)
            relay_pairs.append((loads[0], loads[1]))
        context = {
            "machine": f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
            "mailvault": f"{mailvault_version(mailvault)} ({shlex.join(mailvault)}), SQLite archive",
            "postfix": subprocess.run(
                ["postconf", "-h", "-d", "mail_version"], capture_output=True, text=True, check=False
            ).stdout.strip()
            + " (private instances; journal: hold-only, queue file fsynced, 250, parked in hold/)",
            "disk": f"{workdir} on {filesystem_of(workdir)}",
        }
        command = [Path(sys.executable).name, *sys.argv] if argv is None else ["smtp.py", *argv]
        if relay_pairs:
            context["relay"] = (
                "Postfix content_filter → filter (mailvault relay mode, or bench/passfilter.py) → "
                "Postfix re-injection smtpd → smtp-sink; fresh instances per load"
            )
        print_context(command, context, notes)
        results: dict[str, Any] = {"command": shlex.join(command), "context": context, "notes": notes}
        if pairs:
            results["journal"] = report(pairs)
        results["mailvault_status"] = statuses
        if statuses:
            print(f"  $ {statuses[-1]['command']}    # the gateway; its config (port and data_dir per size):")
            for line in str(statuses[-1]["config"]).splitlines():
                print(f"      {line}")
        if relay_pairs:
            results["relay"] = relay_report(relay_pairs)
        if args.json_out is not None:
            args.json_out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
            print(f"\nresults written to {args.json_out}")
    finally:
        if args.keep:
            print(f"\nwork dir kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
