"""payment_details: outbound mail asking a customer to pay into a bank account that is not the
company's. The commonest theft in export trade: an employee (or an intruder in their mailbox)
gives a customer "our new account" that belongs to someone else.

A message is a signal when it comes from a company address, has a recipient outside the company,
and the text its author wrote (quoted originals below "From:"/"发件人:"/"-----原始邮件-----" or ">"
lines are left out) holds payment words, in Chinese (付款, 汇款, 收款, 账户, 账号, 银行, 转账, 开户行,
变更 …) or English (pay, payment, remit, wire, transfer, beneficiary, bank account, IBAN, SWIFT …),
and bank details that are not among [signals] company_bank_accounts:

- an IBAN (two letters, two check digits, up to 30 letters or digits, grouped by spaces or not)
  whose ISO 13616 mod-97 check holds; a mistyped one (bad checksum) is not an account;
- an account number of 8-30 digits, grouped by spaces or dashes or not, within a few characters
  after an account word (account no, A/C, acct, 账号, 帐号, 账户, 卡号 …);
- a SWIFT/BIC code after "SWIFT" or "BIC", when company_bank_accounts lists SWIFT codes (without
  them every bank code would look foreign); a code matching a listed one's first 8 characters
  (another branch of the same bank) is the company's.

Comparison is on normalised values: spaces and dashes removed, upper-cased; an account number
that is part of a listed IBAN is the company's. With company_bank_accounts empty the detector
is off: it cannot tell the company's accounts from others. Attachments (PDF invoices) are not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mailvault.signals.facts import Context, MessageFacts, own_text
from mailvault.signals.finding import Finding, SignalKind, finding_key

_PAYMENT_WORDS = re.compile(
    r"\b(?:pay|pays|paid|paying|payment|payments|remit|remittance|wire|transfer|beneficiary"
    r"|bank\s+account|account\s+no|account\s+number|iban|swift|t/t)\b"
    r"|付款|汇款|匯款|收款|账户|帐户|帳戶|账号|帐号|帳號|银行|銀行|转账|轉帳|转帐|新账户|变更|更改|开户行|開戶行|货款|打款",
    re.IGNORECASE,
)
_ACCOUNT_WORDS = re.compile(
    r"(?<![A-Z])(?:ACCOUNT|ACCT|A/C)|账号|帐号|帳號|账户|帐户|帳戶|卡号|卡號",
)
_DIGITS = re.compile(r"(?<![A-Z0-9-])(\d(?:[ -]?\d){7,29})(?![\d])")
_IBAN_START = re.compile(r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?=[ A-Z0-9])")
_IBAN_TOKENS = re.compile(r"[A-Z0-9]+(?: [A-Z0-9]+)*")
_SWIFT = re.compile(
    r"(?<![A-Z])(?:SWIFT|BIC)(?:\s*/\s*BIC)?(?:\s*(?:CODE|码|代码|號碼|号码|代碼))?\s*[:：#]?\s*"
    r"([A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)(?![A-Z0-9])"
)
_SWIFT_SHAPE = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
_ACCOUNT_REACH = 40  # characters after an account word where its number may start


@dataclass(frozen=True, slots=True)
class BankDetail:
    kind: str  # iban, account, swift
    value: str  # normalised: no spaces or dashes, upper-case


def normalise(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


def iban_valid(value: str) -> bool:
    """ISO 13616: 15-34 characters, country letters, and the mod-97 check."""
    value = normalise(value)
    if not (15 <= len(value) <= 34 and value[:2].isalpha() and value[2:4].isdigit() and value.isalnum()):
        return False
    moved = value[4:] + value[:4]
    digits = "".join(str(int(ch, 36)) for ch in moved)
    return int(digits) % 97 == 1


def has_payment_words(text: str) -> bool:
    return _PAYMENT_WORDS.search(text) is not None


def bank_details(text: str) -> list[BankDetail]:
    """IBANs, account numbers next to account words, and SWIFT codes in `text`, in order found."""
    upper = text.upper()
    found: list[BankDetail] = []
    for start in _IBAN_START.finditer(upper):
        iban = _iban_at(upper, start.start())
        if iban is not None:
            found.append(BankDetail("iban", iban))
    ibans = [d.value for d in found]
    for word in _ACCOUNT_WORDS.finditer(upper):
        number = _DIGITS.search(upper, word.end(), word.end() + _ACCOUNT_REACH + 70)
        if number is not None and number.start() <= word.end() + _ACCOUNT_REACH:
            value = normalise(number.group(1))
            if not any(value in iban for iban in ibans):
                found.append(BankDetail("account", value))
    found += [BankDetail("swift", m.group(1)) for m in _SWIFT.finditer(upper)]
    return list(dict.fromkeys(found))


def _iban_at(upper: str, start: int) -> str | None:
    match = _IBAN_TOKENS.match(upper, start, start + 50)
    if match is None:
        return None
    tokens = match.group().split(" ")
    if len(tokens[0]) >= 15:
        candidates = [tokens[0]]
    else:  # printed in groups of four, the last group shorter
        candidates, joined = [], ""
        for k, token in enumerate(tokens):
            if len(token) > 4 or (k > 0 and len(tokens[k - 1]) != 4):
                break
            joined += token
            candidates.append(joined)
    for candidate in reversed(candidates):
        if iban_valid(candidate):
            return candidate
    return None


class CompanyAccounts:
    """The company's own bank details, from [signals] company_bank_accounts."""

    def __init__(self, configured: Iterable[str]) -> None:
        self.values = {normalise(v) for v in configured} - {""}
        self.swift_banks = {v[:8] for v in self.values if _SWIFT_SHAPE.match(v)}

    def __bool__(self) -> bool:
        return bool(self.values)

    def foreign(self, details: Iterable[BankDetail]) -> list[BankDetail]:
        """The details that are not the company's."""
        out = []
        for d in details:
            if d.kind == "swift":
                if self.swift_banks and d.value[:8] not in self.swift_banks:
                    out.append(d)
            elif d.value not in self.values and not any(d.value in known for known in self.values):
                out.append(d)
        return out


def detect_payment_details(ctx: Context, session: Session, batch: list[MessageFacts]) -> list[Finding]:
    company = CompanyAccounts(ctx.settings.signals.company_bank_accounts)
    if not company:
        return []
    found: list[Finding] = []
    for m in batch:
        external = sorted(r for r in m.recipients if ctx.is_external(r))
        if not (ctx.is_company(m.author) and external):
            continue
        text = own_text(ctx.text(m))
        if not has_payment_words(text):
            continue
        foreign = company.foreign(bank_details(text))
        if not foreign:
            continue
        account = next((d for d in foreign if d.kind != "swift"), foreign[0])
        found.append(
            Finding(
                kind=SignalKind.PAYMENT_DETAILS,
                employee=m.author,
                finding_key=finding_key(SignalKind.PAYMENT_DETAILS, m.archive_id),
                archive_ids=[m.archive_id],
                summary=f"{m.author} asked {external[0]} to pay into {account.kind} {account.value}, "
                "which is not a company account",
                occurred_at=m.when,
                detail={
                    "account": account.value,
                    "accounts": [{"kind": d.kind, "value": d.value} for d in foreign],
                    "to": external[:20],
                    "subject": m.subject[:200],
                },
            )
        )
    return found
