"""Step 5 of a handover: the evidence package's report, from what the handover found. The package
itself (messages, manifest tied to the ledger, offline checker) is built by mailvault.evidence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO

from mailvault.access import audit
from mailvault.access.audit import Action
from mailvault.archive.arrival import utcnow
from mailvault.archive.store import Archive
from mailvault.errors import MailvaultError
from mailvault.evidence import PackageResult, build_package
from mailvault.evidence.labels import Language
from mailvault.evidence.report import Report, Section
from mailvault.handover.view import HandoverView

AUDITED_IDS = 2000  # the audit record lists at most this many message ids (and counts them all)

_TEXT = {
    "en": {
        "title": "Handover evidence: {employee}",
        "opened": "Handover opened",
        "archived": "Messages archived",
        "deleted": "Deleted by the employee at the source",
        "moved": "Moved at the source",
        "customers": "Customers",
        "open": "Open conversations",
        "successor": "Successor",
        "customer": "Customer",
        "messages": "Messages",
        "in_out": "In / out",
        "first": "First contact",
        "last": "Last contact",
        "direction": "Last direction",
        "subject": "Subject",
        "why": "Why open",
        "awaiting-reply": "the customer is waiting for an answer",
        "deal-no-follow-up": "no reply to {document}",
        "removals": "Deleted or moved in the employee's mailbox",
        "removals_note": "Each is still archived unaltered; 'noticed' is the sync that found it gone.",
        "how": "What happened",
        "folder": "Folder",
        "noticed": "Noticed",
        "signals": "Risk signals",
        "kind": "Signal",
        "summary": "What",
        "when": "When",
        "none": "none",
    },
    "zh": {
        "title": "离职交接证据：{employee}",
        "opened": "交接开始",
        "archived": "已归档邮件",
        "deleted": "员工在邮箱中删除",
        "moved": "在邮箱中移动",
        "customers": "客户",
        "open": "未结会话",
        "successor": "接任者",
        "customer": "客户",
        "messages": "邮件数",
        "in_out": "收 / 发",
        "first": "首次联系",
        "last": "最近联系",
        "direction": "最近方向",
        "subject": "主题",
        "why": "未结原因",
        "awaiting-reply": "客户在等待回复",
        "deal-no-follow-up": "{document} 未获回复",
        "removals": "员工邮箱中被删除或移动的邮件",
        "removals_note": "每封邮件仍原样保存在归档中；“发现时间”是发现其消失的那次同步。",
        "how": "发生了什么",
        "folder": "文件夹",
        "noticed": "发现时间",
        "signals": "风险信号",
        "kind": "信号",
        "summary": "内容",
        "when": "时间",
        "none": "无",
    },
}


def selected_messages(view: HandoverView, customers: Sequence[str]) -> list[int]:
    """The employee's messages with these customers (all of them when none is named)."""
    wanted = {c.strip().lower() for c in customers}
    unknown = wanted - {c.key for c in view.customers}
    if unknown:
        raise MailvaultError(f"not a customer of {view.state.employee}: {', '.join(sorted(unknown))}")
    chosen = [c for c in view.customers if not wanted or c.key in wanted]
    return sorted({archive_id for c in chosen for archive_id in c.archive_ids})


def handover_report(
    view: HandoverView,
    customers: Sequence[str],
    *,
    built_by: str,
    language: Language = "zh",
    time_zone: str = "UTC",
    now: datetime | None = None,
) -> Report:
    text = _TEXT[language]
    wanted = {c.strip().lower() for c in customers}
    chosen = [c for c in view.customers if not wanted or c.key in wanted]
    s, r = view.state, view.reconciliation
    report = Report(
        title=text["title"].format(employee=s.employee),
        employee=s.employee,
        generated_by=built_by,
        generated_at=now or utcnow(),
        language=language,
        time_zone=time_zone,
    )

    def when(moment: datetime | None) -> str:
        return report.when(moment)

    summary = [
        (text["opened"], f"{when(s.opened_at)} · {s.opened_by}"),
        (text["archived"], str(r.archived)),
        (text["deleted"], str(r.deleted)),
        (text["moved"], str(r.moved)),
        (text["customers"], ", ".join(c.key for c in chosen) or text["none"]),
        (text["open"], str(sum(len(c.open_threads) for c in chosen))),
        (text["successor"], s.successor or text["none"]),
    ]
    sections = [
        Section(
            text["customers"],
            [
                text["customer"],
                text["messages"],
                text["in_out"],
                text["first"],
                text["last"],
                text["direction"],
            ],
            [
                [
                    c.key,
                    str(c.messages),
                    f"{c.messages_in} / {c.messages_out}",
                    when(c.first_contact),
                    when(c.last_contact),
                    c.last_direction,
                ]
                for c in chosen
            ],
        ),
        Section(
            text["open"],
            [text["customer"], text["subject"], text["last"], text["why"]],
            [
                [c.key, t.subject, when(t.last_date), text[t.reason].format(document=t.document)]
                for c in chosen
                for t in c.open_threads
            ],
        ),
    ]
    chosen_ids = {archive_id for c in chosen for archive_id in c.archive_ids}
    removals = [x for x in r.removals if x.archive_id in chosen_ids]
    if removals:
        sections.append(
            Section(
                text["removals"],
                [text["subject"], text["folder"], text["how"], text["noticed"]],
                [[x.subject, x.folder, x.how, when(x.noticed_at)] for x in removals],
                note=text["removals_note"],
            )
        )
    if view.signals:
        sections.append(
            Section(
                text["signals"],
                [text["kind"], text["summary"], text["when"]],
                [
                    [str(g.get("kind", "")), str(g.get("summary", "")), str(g.get("occurred_at", ""))]
                    for g in view.signals
                ],
            )
        )
    return Report(
        title=report.title,
        employee=report.employee,
        generated_by=report.generated_by,
        generated_at=report.generated_at,
        language=language,
        summary=summary,
        sections=sections,
        time_zone=time_zone,
    )


def build_handover_package(
    archive: Archive,
    view: HandoverView,
    customers: Sequence[str],
    out: Path | IO[bytes],
    *,
    built_by: str,
    address: str = "",
    language: Language = "zh",
    time_zone: str = "UTC",
) -> PackageResult:
    """The evidence package of the employee's mail with these customers (all when none is named),
    recorded in the audit trail (and so sealed in the ledger) with the package's SHA-256."""
    ids = selected_messages(view, customers)
    report = handover_report(view, customers, built_by=built_by, language=language, time_zone=time_zone)
    result = build_package(
        archive, ids, report, out, built_by=built_by, query=f"handover {view.state.employee}"
    )
    audit.record(
        archive.db,
        username=built_by,
        action=Action.EVIDENCE,
        address=address,
        target=view.state.employee,
        count=result.count,
        detail={
            "sha256": result.sha256,
            "size": result.size,
            "ledger_head": {"seq": result.ledger_head.seq, "entry_hash": result.ledger_head.entry_hash},
            "customers": sorted(customers),
            "archive_ids": ids[:AUDITED_IDS],
        },
    )
    return result
