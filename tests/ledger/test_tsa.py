"""RFC 3161 against a real local time-stamping authority (`openssl ts -reply` behind HTTP):
checkpoints are stamped, `verify-stamp` checks them with `openssl ts -verify`, failures are one line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailvault.archive.store import Archive
from mailvault.config import Settings
from mailvault.ledger import checkpoint, tsa
from tests.conftest import make_settings
from tests.ledger import tamper
from tests.ledger.conftest import fill
from tests.ledger.tsa_server import TsaServer, have_openssl, make_ca
from tests.servers import free_port

pytestmark = pytest.mark.skipif(
    not have_openssl(), reason="the openssl command is not installed (apt-get install openssl)"
)


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[TsaServer]:
    folder = tmp_path / "tsa"
    folder.mkdir()
    with TsaServer(folder) as server:
        yield server


@pytest.fixture
def stamped(tmp_path: Path, database_url: str, authority: TsaServer) -> Iterator[tuple[Settings, Archive]]:
    settings = make_settings(
        tmp_path, database_url, ledger={"tsa_url": authority.url, "tsa_ca_file": str(authority.ca_file)}
    )
    with Archive(settings) as archive:
        fill(archive)
        yield settings, archive


def test_checkpoint_is_stamped_and_the_stamp_verifies(
    stamped: tuple[Settings, Archive], authority: TsaServer
) -> None:
    settings, archive = stamped
    taken = checkpoint.take(settings, archive.db, created_by="root@mail")
    assert taken.stamp is not None
    assert authority.queries == 1
    [row] = checkpoint.recorded(archive.db)
    assert row.tsa_url == authority.url
    assert row.tsa_token == taken.stamp.token
    assert row.tsa_time == taken.stamp.time
    assert f"by {authority.url} (RFC 3161, serial {taken.stamp.serial})" in taken.text
    # The token stamps SHA-256 of the entry hash's bytes, as documented.
    stamp = tsa.check_token(row.tsa_token or b"", tsa.imprint(row.entry_hash))
    assert stamp.serial == taken.stamp.serial
    assert "mailvault test TSA" in stamp.tsa

    verdict = checkpoint.verify_stamp(settings, archive.db, row.checkpoint_id)
    assert verdict.startswith(f"checkpoint {row.checkpoint_id}: entry 6:{row.entry_hash} was stamped at ")
    assert "the signature verifies against" in verdict


def test_stamp_does_not_verify_against_another_ca(stamped: tuple[Settings, Archive], tmp_path: Path) -> None:
    settings, archive = stamped
    taken = checkpoint.take(settings, archive.db, created_by="root@mail")
    other = make_ca(tmp_path, "other-ca")
    with pytest.raises(tsa.TimestampError, match=f"does not verify against {other}") as caught:
        checkpoint.verify_stamp(settings, archive.db, taken.checkpoint_id, other)
    assert "\n" not in str(caught.value)


def test_stamp_of_a_rewritten_chain_is_reported(stamped: tuple[Settings, Archive]) -> None:
    settings, archive = stamped
    taken = checkpoint.take(settings, archive.db, created_by="root@mail")
    tamper.set_payload(archive.db, 3, tamper.payload(archive.db, 3).replace("Quotation 2", "Quotation 0"))
    tamper.rehash_from(archive.db, 3)
    with pytest.raises(Exception, match="the chain no longer has its hash at entry 6"):
        checkpoint.verify_stamp(settings, archive.db, taken.checkpoint_id)


def test_wrong_imprint_is_refused(stamped: tuple[Settings, Archive], authority: TsaServer) -> None:
    settings, archive = stamped
    authority.mode = "other"
    with pytest.raises(tsa.TimestampError, match="the time stamp is for another hash"):
        checkpoint.take(settings, archive.db, created_by="root@mail")
    assert checkpoint.recorded(archive.db) == []


def test_failing_tsa_is_one_line(stamped: tuple[Settings, Archive], authority: TsaServer) -> None:
    settings, archive = stamped
    authority.mode = "fail"
    with pytest.raises(tsa.TimestampError, match=r"refused the request: HTTP 500$"):
        checkpoint.take(settings, archive.db, created_by="root@mail")
    assert checkpoint.recorded(archive.db) == []


def test_refusal_is_reported_with_its_reason(stamped: tuple[Settings, Archive], authority: TsaServer) -> None:
    settings, archive = stamped
    authority.mode = "refuse"  # openssl itself answers status rejection, failInfo badAlg
    with pytest.raises(tsa.TimestampError, match=r"rejected the request: rejection \(.*bad_alg\)$"):
        checkpoint.take(settings, archive.db, created_by="root@mail")
    assert checkpoint.recorded(archive.db) == []


def test_unreachable_tsa_is_one_line(tmp_path: Path, database_url: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/tsa"
    settings = make_settings(tmp_path, database_url, ledger={"tsa_url": url})
    with Archive(settings) as archive:
        fill(archive)
        with pytest.raises(tsa.TimestampError, match=f"time-stamping authority {url} unreachable"):
            checkpoint.take(settings, archive.db, created_by="root@mail")
        assert checkpoint.recorded(archive.db) == []


def test_unstamped_checkpoint_has_nothing_to_verify(vault: Archive) -> None:
    fill(vault)
    taken = checkpoint.take(vault.settings, vault.db, created_by="root@mail", print_only=True)
    with pytest.raises(tsa.TimestampError, match="was not time-stamped"):
        checkpoint.verify_stamp(vault.settings, vault.db, taken.checkpoint_id)
