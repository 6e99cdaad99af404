"""The evidence package's own words, in Chinese and English (the web app's locales are not used:
a package must read the same whichever mailvault version later opens it)."""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

LABELS: dict[Language, dict[str, str]] = {
    "en": {
        "report": "Evidence report",
        "employee": "Employee",
        "generated_by": "Prepared by",
        "generated_at": "Prepared at",
        "summary": "Summary",
        "messages": "Messages",
        "message_count": "Messages in the package",
        "total_bytes": "Total size of the messages",
        "ledger_head": "Ledger head when prepared",
        "date": "Date",
        "from": "From",
        "to": "To",
        "subject": "Subject",
        "size": "Size (bytes)",
        "sha256": "SHA-256",
        "seq": "Ledger entry",
        "no_date": "(no date)",
        "no_subject": "(no subject)",
        "none": "(none)",
        "page": "Page {page} of {pages}",
        "verify_heading": "How to check this package",
        "verify_text": (
            "Each message is in messages/ exactly as it was received. Its SHA-256 is the one the archive "
            "sealed in its hash-chained ledger when the message arrived (the ledger entry is in "
            "manifest.json). Anyone can check the whole package with Python 3 alone, without mailvault:"
        ),
        "verify_head": (
            "SEQ:HASH is a ledger head kept outside the company's systems (printed, mailed or "
            "time-stamped); the check reports whether it matches the ledger head recorded in this package."
        ),
    },
    "zh": {
        "report": "证据报告",
        "employee": "员工",
        "generated_by": "制作人",
        "generated_at": "制作时间",
        "summary": "概要",
        "messages": "邮件清单",
        "message_count": "邮件数量",
        "total_bytes": "邮件总大小",
        "ledger_head": "制作时账本链头",
        "date": "日期",
        "from": "发件人",
        "to": "收件人",
        "subject": "主题",
        "size": "大小（字节）",
        "sha256": "SHA-256",
        "seq": "账本条目",
        "no_date": "（无日期）",
        "no_subject": "（无主题）",
        "none": "（无）",
        "page": "第 {page} 页，共 {pages} 页",
        "verify_heading": "如何核验本证据包",
        "verify_text": (
            "messages/ 目录中的每封邮件均为收到时的原始字节。其 SHA-256 值即邮件到达时归档系统写入"
            "哈希链账本的值（账本条目见 manifest.json）。"
            "任何人只需 Python 3、无需 mailvault 即可核验整个证据包："
        ),
        "verify_head": (
            "SEQ:HASH 为保存在公司系统之外的账本链头（打印、邮寄或经时间戳认证）；"
            "核验结果会说明它与本证据包记录的账本链头是否一致。"
        ),
    },
}


def labels(language: Language) -> dict[str, str]:
    return LABELS[language]
