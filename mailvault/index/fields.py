"""What every engine indexes of a document, by field: one mapping, so engines cannot drift."""

from __future__ import annotations

from mailvault.index.analysis import Token, analyze
from mailvault.index.document import FieldTokens, IndexDocument, domain_and_parents

ROLES = ("from", "to", "cc", "bcc")
# Free text searches all of these; subject:, body:, attachment:, folder: one of them.
TEXT_FIELDS = ("subject", "body", "attachments", "folder", *(f"{role}_names" for role in ROLES))
ADDRESS_FIELDS = tuple(f"{role}_addr" for role in ROLES)


def text_values(doc: IndexDocument) -> dict[str, str]:
    values = {
        "subject": doc.subject,
        "body": doc.body,
        "attachments": "\n".join(doc.attachments),
        "folder": "\n".join(sorted(doc.folders)),
    }
    for role in ROLES:
        values[f"{role}_names"] = "\n".join(doc.role_names.get(role, []))
    return values


def address_values(doc: IndexDocument) -> dict[str, list[str]]:
    """Exact-match values: each role's addresses beside their domains (from:huawei.com is one
    term), every participant's domain, owners, direction and sources."""
    values: dict[str, list[str]] = {}
    for role in ROLES:
        addrs = doc.addresses.get(role, set())
        domains = {d for a in addrs for d in domain_and_parents(a.rpartition("@")[2])}
        values[f"{role}_addr"] = sorted(addrs | domains)
    values["domain"] = sorted(doc.domains())
    values["owner"] = sorted(doc.owners)
    values["direction"] = [doc.direction]
    values["source"] = sorted(doc.sources)
    return values


def field_tokens(doc: IndexDocument) -> dict[str, FieldTokens]:
    """Each text field's tokens: prepared in a worker process already (prepare.py), or now."""
    if doc.tokens is not None:
        return doc.tokens
    values = text_values(doc)
    return {name: packed(analyze(values[name])) for name in TEXT_FIELDS}


def packed(tokens: list[Token]) -> FieldTokens:
    """Tokens as two lists: they cross between processes ten times faster than Token objects."""
    return [t.text for t in tokens], [t.position for t in tokens]
