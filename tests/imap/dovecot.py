"""A throwaway Dovecot (Debian `dovecot-imapd`) on a free loopback port, filled by writing
Maildir files, changed by doveadm: the real IMAP server the import is tested against."""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from mailvault.imapsync.mutf7 import encode_mutf7
from tests.servers import free_port

_CONFIG = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
instance_name = {instance}
protocols = imap
shutdown_clients = yes
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{base}/mail/%u/Maildir
{users}
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
{services}
"""

# Run as root (CI): Dovecot refuses to serve mail as uid 0, so the mail belongs to its own user.
_ROOT_USERS = "default_login_user = dovenull\ndefault_internal_user = dovecot\nfirst_valid_uid = 100"
# Run as an ordinary user: everything as that user, its stats sockets included.
_USER_SERVICES = """\
service stats {{
  unix_listener stats-reader {{
    user = {user}
    mode = 0600
  }}
  unix_listener stats-writer {{
    user = {user}
    mode = 0600
  }}
}}
"""


PASSWORD = "zh4ngWei-2025!"  # noqa: S105 - every test user's


def dovecot_installed() -> bool:
    return shutil.which("dovecot") is not None or Path("/usr/sbin/dovecot").exists()


class Dovecot:
    def __init__(self, *, tls: tuple[Path, Path] | None = None) -> None:
        """With `tls` (certificate, key): STARTTLS on the IMAP port and TLS on `tls_port`."""
        self.base = Path(tempfile.mkdtemp(prefix="mailvault-dovecot-"))
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.config = self.base / "dovecot.conf"
        self.instance = f"mailvault-test-{self.port}"
        self._names = itertools.count(1)
        self._files = itertools.count(1)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("dovecot")
            users, services = _ROOT_USERS, ""
        else:
            owner = pwd.getpwuid(os.geteuid())
            users = f"default_login_user = {owner.pw_name}\ndefault_internal_user = {owner.pw_name}"
            services = _USER_SERVICES.format(user=owner.pw_name)
        self.uid, self.gid = owner.pw_uid, owner.pw_gid
        (self.base / "mail").mkdir()
        os.chown(self.base / "mail", self.uid, self.gid)
        os.chmod(self.base, 0o755)  # noqa: S103 - Dovecot's own users must reach the mail below
        self.config.write_text(
            _CONFIG.format(
                base=self.base,
                port=self.port,
                instance=self.instance,
                uid=self.uid,
                gid=self.gid,
                users=users,
                services=services,
                password=PASSWORD,
                tls_port=self.tls_port,
                ssl=f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}" if tls else "ssl = no",
            )
        )

    # -- the server ---------------------------------------------------------------------------

    def start(self) -> None:
        # The daemon keeps the streams it was given: not pipes, which would never reach EOF.
        with (self.base / "start.err").open("w") as errors:
            started = subprocess.run(
                ["dovecot", "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=errors, check=False
            )
        if started.returncode != 0:
            raise RuntimeError(f"dovecot did not start: {(self.base / 'start.err').read_text()}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def stop(self) -> None:
        """Stop the server and every process it started: its IMAP sessions outlive the master
        otherwise, and a stopped server must cut its clients off."""
        subprocess.run(["doveadm", "-c", str(self.config), "stop"], check=False, capture_output=True)
        deadline = time.monotonic() + 10
        while (self.base / "run" / "master.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self._processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _processes(self) -> list[int]:
        """Dovecot names its processes `dovecot-<instance_name>/<service>`."""
        prefix = f"dovecot-{self.instance}/".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if (entry / "cmdline").read_bytes().startswith(prefix):
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.base / "dovecot.log").read_text(errors="replace")[-3000:]
        except FileNotFoundError:
            return ""

    # -- users and mail -----------------------------------------------------------------------

    def add_user(self) -> str:
        """A new user with an empty INBOX (users are per test: one server serves many tests).
        Every user's password is PASSWORD (a static passdb: nothing to reload)."""
        user = f"user{os.getpid()}x{next(self._names)}"
        self.folder(user, "INBOX")
        return user

    def maildir(self, user: str, folder: str) -> Path:
        """Maildir++: INBOX is the top, `已发送/工作` is `.&XfJT0ZAB-.&XeVPXA-`."""
        top = self.base / "mail" / user / "Maildir"
        if folder == "INBOX":
            return top
        return top / ("." + ".".join(encode_mutf7(part) for part in folder.split("/")))

    def folder(self, user: str, folder: str) -> Path:
        path = self.maildir(user, folder)
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        self._own(self.base / "mail" / user)
        return path

    def deliver(self, user: str, folder: str, messages: list[bytes], *, seen: bool = True) -> None:
        """Put messages into a folder (as a delivery agent would), in order: UIDs follow it."""
        path = self.folder(user, folder)
        stamp = int(time.time())
        for raw in messages:
            name = f"{stamp}.M{next(self._files)}P{os.getpid()}.test:2,{'S' if seen else ''}"
            target = path / "cur" / name
            target.write_bytes(raw)
            os.chown(target, self.uid, self.gid)

    def bodies_sent(self, user: str) -> list[int]:
        """Messages whose body the server sent, per finished session of `user` (from its log)."""
        counts = []
        for line in self.log_lines():
            if f"imap({user})" in line and "Disconnected" in line and "body_count=" in line:
                counts.append(int(line.split("body_count=")[1].split()[0]))
        return counts

    def log_lines(self) -> list[str]:
        try:
            return (self.base / "dovecot.log").read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def doveadm(self, *args: str) -> str:
        result = subprocess.run(
            ["doveadm", "-c", str(self.config), *args], check=True, capture_output=True, text=True
        )
        return result.stdout

    def _own(self, top: Path) -> None:
        for root, dirs, files in os.walk(top):
            os.chown(root, self.uid, self.gid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), self.uid, self.gid)
