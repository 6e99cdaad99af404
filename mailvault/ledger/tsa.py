"""RFC 3161 time stamps of the chain head: ask a time-stamping authority (TSA) to sign that a
hash existed at a time, and check such a stamp later with `openssl ts -verify`.

What is stamped (the message imprint) is the SHA-256 of the 32 bytes of a checkpoint's
entry_hash (its 64 hex digits decoded), not of its text: the entry hash already commits to the
seq and to every entry before it, and anyone can recompute the imprint from the hash alone:
    printf %s ENTRY_HASH | xxd -r -p | sha256sum
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

# No stubs: if pyproject's mypy overrides gain "asn1crypto.*", this ignore becomes unused (allowed).
from asn1crypto import algos, cms, core, tsp  # type: ignore[import-untyped,unused-ignore]

from mailvault.errors import MailvaultError

TIMEOUT = 30.0
_MAX_REPLY = 1 << 20  # a reply holds a signature and a few certificates: far below a megabyte


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161 §2.4.2: the token is OPTIONAL (absent when the request is refused); asn1crypto's
    tsp.TimeStampResp requires it, and so cannot read a refusal."""

    _fields = [  # noqa: RUF012 (asn1crypto's declaration form)
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class TimestampError(MailvaultError):
    """The time-stamping authority could not be reached, refused, or its stamp does not check."""


@dataclass(frozen=True, slots=True)
class Stamp:
    token: bytes  # DER TimeStampToken (CMS SignedData), as the TSA sent it
    time: datetime  # genTime, naive UTC
    serial: int
    tsa: str  # the TSA's name in the token, or "" when it does not name itself


def imprint(entry_hash: str) -> bytes:
    """The message imprint stamped for a chain head: SHA-256 of the entry hash's bytes."""
    return hashlib.sha256(bytes.fromhex(entry_hash)).digest()


def request(digest: bytes, nonce: int) -> bytes:
    """A DER TimeStampReq for a SHA-256 digest, asking for the TSA's certificate (RFC 3161 §2.4.1)."""
    der: bytes = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": digest,
            },
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()
    return der


def stamp(url: str, digest: bytes, *, timeout: float = TIMEOUT) -> Stamp:
    """Have the TSA at `url` stamp `digest`; the reply must grant it for this digest and nonce."""
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise TimestampError(f"[ledger] tsa_url {url!r} is not an http:// or https:// URL")
    nonce = secrets.randbits(63)
    posted = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url,
        data=request(digest, nonce),
        headers={"Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(posted, timeout=timeout) as reply:  # noqa: S310
            body = reply.read(_MAX_REPLY + 1)
    except urllib.error.HTTPError as exc:
        raise TimestampError(f"time-stamping authority {url} refused the request: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise TimestampError(f"time-stamping authority {url} unreachable ({reason})") from exc
    if len(body) > _MAX_REPLY:
        raise TimestampError(f"time-stamping authority {url} sent an oversized reply")
    return parse_reply(body, digest, nonce, url)


def parse_reply(body: bytes, digest: bytes, nonce: int | None, url: str) -> Stamp:
    """Check a TimeStampResp (RFC 3161 §2.4.2) and return its token."""
    try:
        reply = _TimeStampResp.load(body)
        status = reply["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            texts = reply["status"]["status_string"].native or []
            failure = reply["status"]["fail_info"].native
            why = "; ".join([*texts, *(sorted(failure) if failure else [])]) or "no reason given"
            raise TimestampError(f"time-stamping authority {url} rejected the request: {status} ({why})")
        token = reply["time_stamp_token"]
        stamped = check_token(token.dump(), digest, url)
        if nonce is not None and _tst_info(token)["nonce"].native != nonce:
            raise TimestampError(f"time-stamping authority {url} answered another request (wrong nonce)")
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError(f"time-stamping authority {url} sent no valid RFC 3161 reply ({exc})") from exc
    return stamped


def check_token(token: bytes, digest: bytes, url: str = "the token") -> Stamp:
    """Read a TimeStampToken; it must stamp `digest` with SHA-256. Does not check the signature."""
    try:
        info = _tst_info(cms.ContentInfo.load(token))
        algorithm = info["message_imprint"]["hash_algorithm"]["algorithm"].native
        stamped = info["message_imprint"]["hashed_message"].native
        when: datetime = info["gen_time"].native
        serial = int(info["serial_number"].native)
        name = info["tsa"].native if info["tsa"].native is not None else None
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError(f"{url}: not an RFC 3161 time-stamp token ({exc})") from exc
    if algorithm != "sha256" or stamped != digest:
        raise TimestampError(
            f"{url}: the time stamp is for another hash ({algorithm} {stamped.hex()[:16]}…, expected "
            f"sha256 {digest.hex()[:16]}…)"
        )
    return Stamp(token, when.astimezone(UTC).replace(tzinfo=None), serial, _name(name))


def _tst_info(token: cms.ContentInfo) -> tsp.TSTInfo:
    if token["content_type"].native != "signed_data":
        raise ValueError("the token is not CMS SignedData")
    content = token["content"]["encap_content_info"]
    if content["content_type"].native != "tst_info":
        raise ValueError("the token does not hold a TSTInfo")
    info: tsp.TSTInfo = content["content"].parsed
    return info


def _name(value: object) -> str:
    """The TSA's GeneralName, as text: its distinguished name's fields, or the plain value."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


def verify(token: bytes, digest: bytes, ca_file: Path, *, timeout: float = TIMEOUT) -> str:
    """Check the token's signature and certificate chain up to `ca_file` with `openssl ts -verify`
    (the TSA's certificate must be in the token: it is requested); returns openssl's verdict."""
    check_token(token, digest)
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TimestampError("cannot verify the time stamp: the openssl command is not installed")
    if not ca_file.is_file():
        raise TimestampError(f"[ledger] tsa_ca_file {ca_file} is not a file")
    with tempfile.TemporaryDirectory(prefix="mailvault-stamp-") as folder:
        token_file = Path(folder) / "token.der"
        token_file.write_bytes(token)
        try:
            done = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
                [
                    openssl,
                    "ts",
                    "-verify",
                    "-digest",
                    digest.hex(),
                    "-in",
                    str(token_file),
                    "-token_in",
                    "-CAfile",
                    str(ca_file),
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TimestampError(f"cannot run openssl ts -verify ({exc})") from exc
    verdict = (done.stdout + done.stderr).strip()
    if done.returncode != 0 or "Verification: OK" not in verdict:
        reason = next(
            (line for line in verdict.splitlines() if "error" in line.lower() or "fail" in line.lower()),
            verdict.splitlines()[-1] if verdict else f"exit status {done.returncode}",
        )
        raise TimestampError(f"the time stamp does not verify against {ca_file}: {reason.strip()}")
    return "Verification: OK"
