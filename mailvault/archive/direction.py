"""Inbound, outbound or internal, judged by the company's own mail domains."""

from __future__ import annotations

from collections.abc import Iterable

from mailvault.archive.models import Direction


def is_company(address: str, company_domains: Iterable[str]) -> bool:
    domain = address.rpartition("@")[2].lower()
    if not domain:
        return False
    return any(domain == d or domain.endswith("." + d) for d in company_domains)


def classify(author: str, recipients: Iterable[str], company_domains: Iterable[str]) -> Direction:
    """From a company address to company addresses only: internal; to anyone else: outbound."""
    domains = [d.lower().strip().lstrip("@") for d in company_domains if d.strip()]
    if not domains or not author:
        return Direction.UNKNOWN
    others = [r for r in recipients if r]
    if is_company(author, domains):
        if others and all(is_company(r, domains) for r in others):
            return Direction.INTERNAL
        return Direction.OUTBOUND
    return Direction.INBOUND
