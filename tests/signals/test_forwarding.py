"""forward_to_personal and bulk_forwarding: mail leaving for personal mailboxes, and look-alikes."""

from __future__ import annotations

from mailvault.archive.store import Archive
from tests.signals.build import LI, ZHANG, at, mail, scan_all, signals


def test_forward_and_hidden_copy_to_personal_addresses(archive: Archive) -> None:
    forward = mail(
        archive,
        sender=f"张伟 <{ZHANG}>",
        to="zw8888@163.com",
        subject="转发: 询价 RFQ-2025-031",
        body="发件人: Hans <hans@kunde.de>\n主题: RFQ\n\nPlease quote 5000 pcs.\n",
        date=at(1),
    )
    hidden = mail(
        archive,
        sender=f"张伟 <{ZHANG}>",
        to="Hans <hans@kunde.de>",
        subject="Quotation PI-2025-031",
        date=at(2),
        envelope_to=("hans@kunde.de", "zw.private@vip.qq.com"),  # a Bcc: in no header
    )
    result = scan_all(archive)

    found = signals(archive, "forward_to_personal")
    assert [(s.archive_ids, s.detail["to"], s.detail["how"]) for s in found] == [
        ([forward], "zw8888@163.com", ["forward"]),
        ([hidden], "zw.private@vip.qq.com", ["bcc"]),  # sub-domains of free-mail domains count
    ]
    assert {s.employee for s in found} == {ZHANG}
    assert "zw8888@163.com" in found[0].summary
    assert found[0].occurred_at == at(1).replace(tzinfo=None)
    assert result.found["forward_to_personal"] == 2


def test_customers_on_free_mail_are_not_personal_addresses(archive: Archive) -> None:
    mail(archive, sender="Ahmed <ahmed.trading@gmail.com>", to=ZHANG, subject="Inquiry LED", date=at(0))
    mail(archive, sender=ZHANG, to="ahmed.trading@gmail.com", subject="Re: Inquiry LED", date=at(1))
    mail(  # forwarding a datasheet to the customer is business
        archive, sender=ZHANG, to="ahmed.trading@gmail.com", subject="Fwd: LED datasheet", date=at(2)
    )
    mail(archive, sender=ZHANG, to="new.buyer@163.com", subject="Our catalogue", date=at(3))  # plain, shown
    mail(archive, sender=LI, to=ZHANG, subject="Fw: 内部通知", date=at(4))  # internal forward
    mail(archive, sender="spam@163.com", to=ZHANG, subject="Fwd: offer", date=at(5))  # not from the company

    scan_all(archive)

    assert signals(archive, "forward_to_personal") == []


def test_own_name_on_a_free_mail_address_is_personal_even_when_it_wrote_before(archive: Archive) -> None:
    mail(archive, sender="张伟 <zhangwei1988@126.com>", to=ZHANG, subject="周末加班", date=at(0))
    forward = mail(
        archive,
        sender=f"张伟 <{ZHANG}>",
        to="张伟 <zhangwei1988@126.com>",
        subject="FW: 客户名单",
        date=at(1),
    )

    scan_all(archive)

    assert [s.archive_ids for s in signals(archive, "forward_to_personal")] == [[forward]]


def _customer_mail(archive: Archive, n: int, hours: float) -> None:
    mail(archive, sender="Hans <hans@kunde.de>", to=ZHANG, subject=f"Order {n}", date=at(hours))


def _forward(archive: Archive, n: int, to: str, hours: float, sender: str = ZHANG) -> int:
    return mail(
        archive,
        sender=sender,
        to=to,
        subject=f"Fwd: Order {n}",
        body=f"-----Original Message-----\nFrom: Hans <hans@kunde.de>\nSubject: Order {n}\n\nprice?\n",
        date=at(hours),
    )


def test_bulk_forwarding_of_customer_mail_is_one_signal_per_window(archive: Archive) -> None:
    for n in range(6):
        _customer_mail(archive, n, hours=n)
    burst = [_forward(archive, n, "buyer@rival-trading.com", hours=10 + n) for n in range(4)]
    later = [_forward(archive, n, "buyer@rival-trading.com", hours=100 + n) for n in (4, 5)]  # only 2: quiet
    # Forwarding a customer's mail to the customer's own colleague is not taking it away.
    for n in range(4):
        _forward(archive, n, "boss@kunde.de", hours=200 + n, sender=LI)

    scan_all(archive, batch_size=5)  # windows that span batches are still found once

    found = signals(archive, "bulk_forwarding")
    assert [(s.employee, s.archive_ids) for s in found] == [(ZHANG, sorted(burst))]
    assert found[0].detail["count"] == 4
    assert found[0].detail["to"] == ["buyer@rival-trading.com"]
    assert not set(later) & set(found[0].archive_ids)


def test_forwards_of_non_customer_mail_do_not_count_as_bulk(archive: Archive) -> None:
    for n in range(4):  # the quoted sender never wrote to the company: not a customer's message
        mail(
            archive,
            sender=ZHANG,
            to="friend@partner.com",
            subject=f"Fwd: newsletter {n}",
            body="From: news@shop.example\n\nsale!\n",
            date=at(n),
        )

    scan_all(archive)

    assert signals(archive, "bulk_forwarding") == []
