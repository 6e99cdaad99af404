"""Envelope recipients of journal copies: undo the address encoding the MTA applied.

Postfix's recipient_bcc_maps with a regexp map such as
`/^(.*)@(.*)$/ archive+$1=$2@archive.example` adds, for every envelope recipient, a distinct
archive address; Postfix hands mailvault one copy of the message with one RCPT TO per archive
address, and decoding them gives the original recipients back, Bcc ones included. A
sender_bcc_maps copy is tagged `archive-sender+...`: it names the sender, not a recipient.
"""

from __future__ import annotations

SENDER_TAG_SUFFIX = "-sender"


def decode_recipient(rcpt: str, journal_domain: str) -> str | None:
    """`archive+user=example.com@<journal_domain>` → `user@example.com`; a sender copy
    (`archive-sender+...`) → None; any other address as it is."""
    if not journal_domain:
        return rcpt
    local, at, domain = rcpt.rpartition("@")
    if not at or domain.lower() != journal_domain.lower():
        return rcpt
    tag, plus, encoded = local.partition("+")
    if not plus or not tag:
        return rcpt
    user, equals, original_domain = encoded.rpartition("=")
    if not equals or not user or not original_domain:
        return rcpt
    if tag.lower().endswith(SENDER_TAG_SUFFIX):
        return None
    return f"{user}@{original_domain}"
