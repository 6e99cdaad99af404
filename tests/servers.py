"""Real servers for tests, from Debian packages: a throwaway PostgreSQL cluster on a free port."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REQUIRE_ENV = "MAILVAULT_TEST_REQUIRE_SERVERS"  # set by .ci/run: a missing server fails, not skips


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_session_to_end(session: int, seconds: float = 10.0) -> None:
    """After its leader was killed, every process of the session (a process pool, a forkserver)
    must go too: fail, and clean up, if any is left."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(session, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.killpg(session, signal.SIGKILL)
    raise AssertionError("processes of the killed command outlived it")


def self_signed_certificate(folder: Path, name: str = "mx.test") -> tuple[Path, Path]:
    """A throwaway certificate and key (openssl), for servers under test that speak TLS."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def postgres_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return found[0].parent if found else None


def _as_user(user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--"] if user else []


class PostgresServer:
    """A private cluster (fsync off: tests need speed, not durability) that can be stopped and
    started again, for tests of a database that goes away."""

    def __init__(self) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bindir = bindir
        # PostgreSQL refuses to run as root; use the postgres account Debian's package creates.
        self.user = "postgres" if os.geteuid() == 0 else None
        self.base = Path(tempfile.mkdtemp(prefix="mailvault-pg-"))
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        self.datadir = self.base / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"
        self._pg(["initdb", "--no-sync", "-A", "trust", "-U", "postgres", "-D", str(self.datadir)])

    def _pg(self, command: list[str]) -> None:
        subprocess.run(
            [*_as_user(self.user), str(self.bindir / command[0]), *command[1:]],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.base} -c fsync=off -c listen_addresses=127.0.0.1 -c max_connections=200"
        )
        self._pg(
            ["pg_ctl", "-D", str(self.datadir), "-o", options, "-l", str(self.base / "log"), "-w", "start"]
        )

    def stop(self) -> None:
        self._pg(["pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop"])

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a private cluster and yield its base URL; removed afterwards."""
    server = PostgresServer()
    server.start()
    try:
        yield server.url
    finally:
        server.remove()


def create_database(base_url: str, name: str, *, template: str | None = None) -> str:
    """A new database on the test cluster, empty or a copy of `template`."""
    import psycopg

    dsn = base_url.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                copy = f' TEMPLATE "{template}"' if template else ""
                conn.execute(f'CREATE DATABASE "{name}"{copy}')
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    return f"{base_url}/{name}"


@contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "256k") mounted at `where`: a real full disk for tests (root only)."""
    import pytest

    where.mkdir(exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
