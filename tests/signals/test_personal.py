"""personal_first_contact: a customer's first mail with an employee's personal address."""

from __future__ import annotations

from mailvault.archive.store import Archive
from tests.signals.build import ZHANG, at, mail, scan_all, signals


def _customer_history(archive: Archive) -> None:
    mail(archive, sender="Hans <hans@kunde.de>", to=ZHANG, subject="Order 1", date=at(0))


def test_first_contact_with_a_learned_personal_address(archive: Archive) -> None:
    _customer_history(archive)
    # The personal mail is archived because the company address was copied (journal envelope).
    first = mail(
        archive,
        sender="zw8888@163.com",
        to="hans@kunde.de",
        subject="better price",
        date=at(30),
        envelope_to=("hans@kunde.de", ZHANG),
    )
    scan_all(archive)
    assert signals(archive, "personal_first_contact") == [], "the address is not known to be personal yet"

    # Learned later: a forward to it. The earlier mail is looked at again.
    mail(archive, sender=ZHANG, to="zw8888@163.com", subject="Fwd: 客户资料", date=at(40))
    mail(
        archive,
        sender="hans@kunde.de",
        to="zw8888@163.com",
        subject="Re: better price",
        date=at(50),
        envelope_to=("zw8888@163.com", ZHANG),
    )
    result = scan_all(archive)

    [found] = signals(archive, "personal_first_contact")
    assert (found.employee, found.archive_ids) == (ZHANG, [first])
    assert found.detail == {"personal": "zw8888@163.com", "customer": "hans@kunde.de", "how": "forwarded"}
    assert result.found["personal_first_contact"] == 1


def test_personal_address_known_by_the_employees_name(archive: Archive) -> None:
    _customer_history(archive)
    mail(archive, sender=f"张伟 <{ZHANG}>", to="Hans <hans@kunde.de>", subject="Re: Order 1", date=at(1))
    sent = mail(
        archive,
        sender="张伟 <zw.home@126.com>",
        to="hans@kunde.de",
        cc=ZHANG,
        subject="new company",
        date=at(5),
    )

    scan_all(archive)

    [found] = signals(archive, "personal_first_contact")
    assert (found.archive_ids, found.detail["how"]) == ([sent], "name")


def test_no_signal_without_a_customer_or_personal_address(archive: Archive) -> None:
    mail(archive, sender=ZHANG, to="zw8888@163.com", subject="Fwd: 周报", date=at(0))  # learned personal
    mail(  # a stranger who never corresponded with the company
        archive,
        sender="someone@elsewhere.org",
        to="zw8888@163.com",
        cc=ZHANG,
        subject="hello",
        date=at(1),
    )
    _customer_history(archive)
    mail(  # a free-mail address that is nobody's personal one
        archive, sender="Li Ming <liming@163.com>", to="hans@kunde.de", cc=ZHANG, subject="hi", date=at(2)
    )

    scan_all(archive)

    assert signals(archive, "personal_first_contact") == []
