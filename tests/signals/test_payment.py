"""payment_details: bank details in outbound mail, in Chinese (GBK, GB18030) and English."""

from __future__ import annotations

import pytest

from mailvault.archive.store import Archive
from mailvault.signals.payment import bank_details, iban_valid
from tests.signals.build import ZHANG, gbk_mail, mail, scan_all, signals

CHANGED_ACCOUNT = (
    "尊敬的客户：\n由于公司银行账户变更，请将本批货款汇款至我司新账户。\n"
    "开户行：中国工商银行深圳分行\n账号：6217 0033 2000 1234 567\n谢谢！\n"
)


@pytest.mark.parametrize("charset", ["GBK", "GB18030"])
def test_new_account_in_a_chinese_mail_is_a_signal(archive: Archive, charset: str) -> None:
    sent = gbk_mail(
        archive,
        sender=f"张伟 <{ZHANG}>",
        to="王经理 <wang@dongfang-trade.com>",
        body=CHANGED_ACCOUNT,
        charset=charset,
    )

    scan_all(archive)

    [found] = signals(archive, "payment_details")
    assert (found.employee, found.archive_ids) == (ZHANG, [sent])
    assert found.detail["account"] == "6217003320001234567"
    assert found.detail["to"] == ["wang@dongfang-trade.com"]
    assert "6217003320001234567" in found.summary


def test_foreign_iban_and_swift_in_english(archive: Archive) -> None:
    body = (
        "Dear Hans,\nplease note our bank details have changed. Kindly remit the balance to:\n"
        "Beneficiary: HQ Trading Ltd\nIBAN: GB82 WEST 1234 5698 7654 32\nSWIFT code: WESTGB2L\n"
    )
    sent = mail(archive, sender=ZHANG, to="hans@kunde.de", subject="Payment", body=body)

    scan_all(archive)

    [found] = signals(archive, "payment_details")
    assert found.archive_ids == [sent]
    assert found.detail["account"] == "GB82WEST12345698765432"
    assert {"kind": "swift", "value": "WESTGB2L"} in found.detail["accounts"]


def test_look_alikes_are_quiet(archive: Archive) -> None:
    own = "请将货款汇至我司账户：\n账号：6222-0212-3456-7890\n开户行：中国银行 SWIFT: BKCHCNBJ300\n"
    gbk_mail(archive, sender=ZHANG, to="wang@dongfang-trade.com", body=own)  # the company's own account
    mail(  # the company's IBAN, grouped differently, and an account number that is part of it
        archive,
        sender=ZHANG,
        to="hans@kunde.de",
        subject="Invoice 31",
        body="Please pay to IBAN DE89370400440532013000 (account no. 0532 0130 00).\n",
    )
    mail(  # a mistyped IBAN (bad mod-97 checksum) is not an account
        archive,
        sender=ZHANG,
        to="hans@kunde.de",
        subject="Invoice 32",
        body="Please transfer to IBAN DE88 3704 0044 0532 0130 00.\n",
    )
    mail(  # a customer's own bank details, in mail to us
        archive,
        sender="hans@kunde.de",
        to=ZHANG,
        subject="Refund",
        body="Please refund to account no 12345678901.\n",
    )
    mail(  # bank details quoted from the customer's earlier mail
        archive,
        sender=ZHANG,
        to="hans@kunde.de",
        subject="Re: Refund",
        body="We will pay the refund tomorrow.\n\n-----Original Message-----\nFrom: hans@kunde.de\n"
        "Please refund to account no 12345678901.\n",
    )
    mail(
        archive,
        sender=ZHANG,
        to="hans@kunde.de",
        subject="Order",
        body="Order no 20250304123 ships Monday.\n",
    )

    scan_all(archive)

    assert signals(archive, "payment_details") == []


def test_bank_detail_parsing() -> None:
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_valid("DE88 3704 0044 0532 0130 00")
    found = bank_details("IBAN: GB82 WEST 1234 5698 7654 32 THANKS, A/C 1234-5678-9012; BIC: DEUTDEFF500")
    assert [(d.kind, d.value) for d in found] == [
        ("iban", "GB82WEST12345698765432"),
        ("account", "123456789012"),
        ("swift", "DEUTDEFF500"),
    ]
    assert bank_details("Tel 0755-8888 8888, order 123456789") == []  # digits without account words


def test_without_company_accounts_the_check_is_off_and_keeps_its_place(archive: Archive) -> None:
    mail(
        archive,
        sender=ZHANG,
        to="hans@kunde.de",
        subject="Payment",
        body="Please pay to account no 12345678901.\n",
    )
    listed = archive.settings.signals
    archive.settings = archive.settings.model_copy(
        update={"signals": listed.model_copy(update={"company_bank_accounts": []})}
    )
    off = scan_all(archive)
    assert off.off == ["payment_details: [signals] company_bank_accounts is empty"]
    assert signals(archive, "payment_details") == []

    archive.settings = archive.settings.model_copy(update={"signals": listed})
    assert scan_all(archive).found["payment_details"] == 1, "listed later: earlier mail is looked at"
