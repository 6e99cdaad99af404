"""An archive holding Chinese (GBK) and English mail, and evidence packages built from it."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from mailvault.archive.store import Archive
from mailvault.evidence import PackageResult, Report, Section, build_package
from tests.archive.test_bundle import GBK_BODY, GBK_HEADERS, ingest
from tests.mailfactory import make_message, raw_message

EMPLOYEE = "张伟 zhang.wei@huaqiang-elec.com.cn"
HOSTILE = 'Invoice <script>alert("x")</script> & <img src=x onerror=alert(1)>'


def raws() -> list[bytes]:
    """A GBK-encoded quotation (subject 报价单), an English invoice with a hostile subject, a reply."""
    return [
        raw_message(GBK_HEADERS, GBK_BODY),
        make_message(
            subject=HOSTILE,
            sender="Hans Müller <hans@kunde.de>",
            to="zhang.wei@huaqiang-elec.com.cn",
            message_id="<inv-77@kunde.de>",
        ),
        make_message(
            subject="Re: 形式发票 PI-2024-031", body="Confirmed, thanks.\n", message_id="<re-31@kunde.de>"
        ),
    ]


def report(language: str = "zh") -> Report:
    return Report(
        title="离职交接 张伟 / Handover of Zhang Wei",
        employee=EMPLOYEE,
        generated_by="li.na@huaqiang-elec.com.cn",
        generated_at=datetime(2025, 6, 30, 2, 0, tzinfo=UTC),
        language="en" if language == "en" else "zh",
        summary=[("交接编号", "H-2025-017")],
        sections=[
            Section(
                "客户", ["客户", "邮件"], [["深圳华强电子", "12"], ["Kunde GmbH", "3"]], note="按邮件数排序"
            )
        ],
        time_zone="Asia/Shanghai",
    )


Build = Callable[..., tuple[bytes, PackageResult]]


@pytest.fixture
def build(archive: Archive) -> Build:
    """Build a package of the given ids (default: everything in raws()) into memory."""

    def run(ids: list[int] | None = None, language: str = "zh") -> tuple[bytes, PackageResult]:
        chosen = ingest(archive, raws()) if ids is None else ids
        out = io.BytesIO()
        result = build_package(archive, chosen, report(language), out, built_by="li.na")
        return out.getvalue(), result

    return run


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rewrite(data: bytes, change: Callable[[dict[str, bytes]], object]) -> bytes:
    files = members(data)
    change(files)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return out.getvalue()
