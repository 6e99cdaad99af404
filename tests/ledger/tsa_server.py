"""A real RFC 3161 time-stamping authority for tests: a CA and a TSA certificate made with the
openssl command, and an HTTP server (in a thread) that answers each query with `openssl ts -reply`."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers import free_port

_TS_CONFIG = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {folder}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def openssl(*args: str, cwd: Path) -> bytes:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {done.stderr.decode(errors='replace')}")
    return done.stdout


def make_ca(folder: Path, name: str) -> Path:
    """A self-signed CA (P-256: quick to make): folder/name.pem and folder/name.key."""
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    return folder / f"{name}.pem"


def make_tsa(folder: Path) -> Path:
    """CA `ca`, and a TSA certificate it signed: extendedKeyUsage critical,timeStamping (RFC 3161 §2.3)."""
    make_ca(folder, "ca")
    (folder / "tsa.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n"
    )
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=mailvault test TSA",
        cwd=folder,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "tsa.pem", "-days", "2", "-extfile", "tsa.ext",
        cwd=folder,
    )  # fmt: skip
    (folder / "serial").write_text("01\n")
    (folder / "ts.cnf").write_text(_TS_CONFIG.format(folder=folder))
    return folder / "ca.pem"


@dataclass
class TsaServer:
    folder: Path
    # "answer"; "fail" (HTTP 500); "other" (a reply to another query); "refuse" (a SHA-1 query:
    # openssl's own refusal, status rejection with badAlg)
    mode: str = "answer"
    queries: int = 0

    def __post_init__(self) -> None:
        self.ca_file = make_tsa(self.folder)
        self.port = free_port()
        self._server = http.server.HTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tsa"

    def reply(self, query: bytes) -> bytes:
        self.queries += 1
        with tempfile.TemporaryDirectory(dir=self.folder) as work:
            query_file = Path(work) / "query.tsq"
            if self.mode in ("other", "refuse"):
                digest = ["11" * 32, "-sha256"] if self.mode == "other" else ["11" * 20, "-sha1"]
                openssl("ts", "-query", "-digest", *digest, "-cert", "-out", str(query_file), cwd=self.folder)
            else:
                query_file.write_bytes(query)
            reply_file = Path(work) / "reply.tsr"
            openssl(
                "ts", "-reply", "-config", "ts.cnf", "-queryfile", str(query_file), "-out", str(reply_file),
                cwd=self.folder,
            )  # fmt: skip
            return reply_file.read_bytes()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        tsa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = self.rfile.read(int(self.headers["Content-Length"]))
                if tsa.mode == "fail":
                    self.send_error(500, "out of service")
                    return
                body = tsa.reply(query)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows stderr of failing tests only

        return Handler

    def __enter__(self) -> TsaServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def have_openssl() -> bool:
    return shutil.which("openssl") is not None
