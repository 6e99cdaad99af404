"""Envelope recipients of journal copies: undo the address encoding the MTA applied.

Postfix's recipient_bcc_maps/sender_bcc_maps with a regexp map such as
`/^(.*)@(.*)$/ archive+$1=$2@archive.example` send one copy per original recipient to a
distinct archive address; decoding it gives the original recipient back (Bcc ones included).
"""

from __future__ import annotations


def decode_recipient(rcpt: str, journal_domain: str) -> str:
    """`archive+user=example.com@<journal_domain>` → `user@example.com`; anything else as is."""
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
    return f"{user}@{original_domain}"
