"""IMAP import benchmark (issue 5): `mailvault import imap` from a real Dovecot, end to end
(archived and durable), against two anchors on the same mailbox in the same run: mbsync (Debian
`isync`) pulling it into a local Maildir with its default fsync, and a plain stdlib imaplib loop
that only downloads (the transport ceiling).

Mailboxes: 20,000 messages of about 4 KB and 3,000 of about 55 KB, realistic business mail from
bench/mailgen.py (the 55 KB ones carry a quotation PDF of random bytes, as incompressible as a
real one). Memory: the importer's peak RSS on a quarter of the 4 KB mailbox and on all of it.
Targets: faster than mbsync on both mailboxes (ratio >= 1.0), >= 2,000 messages/s at 4 KB, memory
flat as the mailbox grows.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import imaplib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import filesystem_of, find_mailvault, mailvault_version
from bench.mailgen import generate_with_envelope
from tests.imap.dovecot import PASSWORD, Dovecot

TARGET_RATE_4K = 2000.0
TARGET_RATIO = 1.0
MB = 1_000_000


def small_messages(count: int, seed: int) -> list[bytes]:
    """mailgen messages of 3,000-5,500 bytes (about a third of what it writes)."""
    found: list[bytes] = []
    for generated in generate_with_envelope(count * 4, seed):
        if 3000 <= len(generated.raw) <= 5500:
            found.append(generated.raw)
            if len(found) == count:
                return found
    raise SystemExit(f"bench: mailgen gave only {len(found)} messages of about 4 KB")


def large_messages(count: int, seed: int, size: int = 55_000) -> list[bytes]:
    """mailgen messages brought to about `size` bytes with a quotation PDF attachment."""
    found = []
    randomness = os.urandom
    for generated in generate_with_envelope(count, seed):
        message = email.message_from_bytes(generated.raw, policy=email.policy.SMTP)
        room = max(1000, (size - len(generated.raw)) * 3 // 4)  # base64 grows data by 4/3
        if not message.is_multipart():
            message.make_mixed()
        message.add_attachment(randomness(room), maintype="application", subtype="pdf", filename="报价单.pdf")
        found.append(message.as_bytes(policy=email.policy.SMTP))
    return found


@dataclass
class Run:
    tool: str
    messages: int
    bytes: int
    seconds: float
    peak_rss: int = 0
    secured_seconds: float = 0.0  # mailvault only: until all was durable and checkpointed

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def mb_rate(self) -> float:
        return self.bytes / MB / self.seconds if self.seconds else 0.0


def imaplib_download(port: int, user: str) -> Run:
    """Download every message with the standard library, keeping nothing: the transport ceiling."""
    started = time.perf_counter()
    connection = imaplib.IMAP4("127.0.0.1", port)
    connection.login(user, PASSWORD)
    connection.select("INBOX", readonly=True)
    _, data = connection.uid("SEARCH", "ALL")
    uids = data[0].split()
    count = total = 0
    for at in range(0, len(uids), 500):
        window = b",".join(uids[at : at + 500]).decode()
        _, items = connection.uid("FETCH", window, "(BODY.PEEK[])")
        for item in items:
            if isinstance(item, tuple):
                count += 1
                total += len(item[1])
    connection.logout()
    return Run("imaplib (download only)", count, total, time.perf_counter() - started)


def mbsync_pull(port: int, user: str, work: Path) -> Run:
    target = work / f"mbsync-{user}"
    target.mkdir()
    config = work / f"mbsync-{user}.rc"
    config.write_text(
        f"IMAPAccount a\nHost 127.0.0.1\nPort {port}\nUser {user}\nPass {PASSWORD}\nSSLType None\n"
        f"AuthMechs LOGIN\n\nIMAPStore far\nAccount a\n\nMaildirStore near\nPath {target}/\n"
        f"Inbox {target}/INBOX\n\nChannel c\nFar :far:\nNear :near:\nPatterns *\nCreate Near\nSync Pull\n"
        f"SyncState *\n"
    )
    started = time.perf_counter()
    subprocess.run(["mbsync", "-c", str(config), "-a", "-q"], check=True, capture_output=True)
    seconds = time.perf_counter() - started
    files = [p for p in (target / "INBOX").rglob("*") if p.is_file() and p.parent.name in ("cur", "new")]
    return Run("mbsync (default fsync)", len(files), sum(p.stat().st_size for p in files), seconds)


def mailvault_import(port: int, user: str, work: Path, mailvault: list[str]) -> tuple[Run, str]:
    data = work / f"mailvault-{user}"
    config = work / f"mailvault-{user}.toml"
    config.write_text(f'[archive]\ndata_dir = "{data}"\n[log]\nlevel = "WARNING"\n')
    password = work / "password"
    password.write_text(PASSWORD)
    command = [
        *mailvault,
        "--config",
        str(config),
        "import",
        "imap",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--plain",
        "--user",
        user,
        "--owner",
        f"{user}@huaqiang-elec.com.cn",
        "--password-file",
        str(password),
        "--json",
        "--no-progress",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILVAULT_")}
    output, errors = work / "import.json", work / "import.err"
    started = time.perf_counter()
    with output.open("wb") as out, errors.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        # wait4 rather than wait: its resource usage gives the importer's peak memory.
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: mailvault import imap failed: {errors.read_text()[-2000:]}")
    summary = json.loads(output.read_text())
    run = Run("mailvault import imap", int(summary["messages"]), int(summary["bytes"]), seconds)
    # Secured: every message durable in the import journal and its checkpoint moved (what an
    # interrupted import keeps), measured on the same clock: the command's start-up included.
    run.secured_seconds = seconds - float(summary["seconds"]) + float(summary["secured_seconds"])
    # KiB on Linux; wait4 reports the largest of the importer and the processes it waited for
    # (its forkserver, and through it the parse workers), not the main process alone.
    run.peak_rss = int(usage.ru_maxrss) * 1024
    return run, " ".join(command)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    mailvault = find_mailvault()
    server = Dovecot()
    server.start()
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(),
        "mailvault": mailvault_version(mailvault),
        "disk": f"{work} on {filesystem_of(work)}",
        "mailboxes": {},
    }
    try:
        for label, messages in (
            ("4 KB", small_messages(args.small, args.seed)),
            ("55 KB", large_messages(args.large, args.seed + 1)),
        ):
            runs = []
            for tool in ("imaplib", "mbsync", "mailvault"):
                user = server.add_user()
                server.deliver(user, "INBOX", messages)
                os.sync()
                print(
                    f"bench: {label}: {tool} (load average {os.getloadavg()[0]:.2f})",
                    file=sys.stderr,
                    flush=True,
                )
                if tool == "imaplib":
                    runs.append(imaplib_download(server.port, user))
                elif tool == "mbsync":
                    runs.append(mbsync_pull(server.port, user, work))
                else:
                    measured, command = mailvault_import(server.port, user, work, mailvault)
                    runs.append(measured)
                    results["command"] = command
            results["mailboxes"][label] = {
                "messages": len(messages),
                "raw_bytes": sum(len(m) for m in messages),
                "runs": [vars(r) | {"rate": round(r.rate, 1), "mb_per_s": round(r.mb_rate, 2)} for r in runs],
            }
        results["memory"] = memory_growth(server, args, work, mailvault)
    finally:
        server.close()
    return results


def memory_growth(
    server: Dovecot, args: argparse.Namespace, work: Path, mailvault: list[str]
) -> dict[str, int]:
    """Peak RSS on a quarter of the 4 KB mailbox, then on all of it (see mailvault_import)."""
    found = {}
    messages = small_messages(args.small, args.seed)
    for share in (4, 1):
        user = server.add_user()
        server.deliver(user, "INBOX", messages[: len(messages) // share])
        measured, _ = mailvault_import(server.port, user, work, mailvault)
        found[str(measured.messages)] = measured.peak_rss
    return found


def report(results: dict[str, Any]) -> None:
    print("\nmailvault IMAP import benchmark (issue 5)")
    for key in ("machine", "python", "mailvault", "disk"):
        print(f"{key + ':':<11}{results[key]}")
    print(f"{'command:':<11}{results.get('command', '')}")
    for label, box in results["mailboxes"].items():
        print(f"\nmailbox of {box['messages']:,} messages of about {label} ({box['raw_bytes'] / MB:,.1f} MB)")
        runs = {r["tool"]: r for r in box["runs"]}
        for r in box["runs"]:
            print(
                f"  {r['tool']:<26}{r['seconds']:>8.1f} s {r['rate']:>10,.0f} msg/s "
                f"{r['mb_per_s']:>8.2f} MB/s"
            )
        ours = runs["mailvault import imap"]
        anchor = runs["mbsync (default fsync)"]["rate"]
        ceiling = runs["imaplib (download only)"]["rate"]
        secured = ours["messages"] / ours["secured_seconds"] if ours["secured_seconds"] else 0.0
        print(
            f"  {'  of which secured':<26}{ours['secured_seconds']:>8.1f} s {secured:>10,.0f} msg/s "
            "(durable in the import journal, checkpoint moved)"
        )
        for what, rate in (("archived (end to end)", ours["rate"]), ("secured", secured)):
            print(
                f"  mailvault {what} / mbsync: {rate / anchor:.2f}x (target >= {TARGET_RATIO}); "
                f"/ imaplib: {rate / ceiling:.2f}x"
                + (f"; {rate:,.0f} msg/s (target >= {TARGET_RATE_4K:,.0f})" if label == "4 KB" else "")
            )
    memory = results["memory"]
    print(
        "\npeak RSS of `mailvault import imap`, largest process of its tree (wait4): "
        + ", ".join(f"{n} messages {rss / MB:,.0f} MB" for n, rss in memory.items())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=20_000, help="messages of about 4 KB")
    parser.add_argument("--large", type=int, default=3_000, help="messages of about 55 KB")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    if shutil.which("mbsync") is None:
        raise SystemExit("bench: mbsync is missing (apt-get install isync)")
    work = Path(tempfile.mkdtemp(prefix="mailvault-imap-bench-"))
    try:
        results = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
