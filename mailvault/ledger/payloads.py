"""What the ledger commits to for each kind of row. The same functions build the payload when a
row is written and again from the database when it is verified, so any change to a sealed column
shows as a difference. Columns that are derived later (thread ids, subject keys) or that record
later observations (an IMAP location vanishing) are not sealed: they change legitimately."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mailvault.access.models import AuditEvent
from mailvault.archive.models import Message, Source

SOURCE_FIELDS = (
    "source_key",
    "archive_id",
    "sha256",
    "kind",
    "origin",
    "folder",
    "owner",
    "uidvalidity",
    "uid",
    "flags",
    "detail",
    "arrived_at",
)
MESSAGE_FIELDS = (
    "archive_id",
    "sha256",
    "size",
    "dedup_key",
    "message_id",
    "date",
    "subject",
    "sender_addr",
    "sender_name",
    "direction",
    "in_reply_to",
    "reference_ids",
    "attachment_count",
    "parse_status",
    "archived_at",
)
AUDIT_FIELDS = (
    "event_id",
    "at",
    "username",
    "action",
    "outcome",
    "target",
    "query",
    "address",
    "detail",
    "count",
)


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    return value


def pick(row: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: _value(row.get(name)) for name in fields}


def of_object(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: _value(getattr(obj, name)) for name in fields}


def arrival(source: Mapping[str, Any], message: Mapping[str, Any] | None) -> dict[str, Any]:
    """An arrival: the sources row, and the messages row when this arrival created the message."""
    payload: dict[str, Any] = {"source": pick(source, SOURCE_FIELDS)}
    if message is not None:
        payload["message"] = pick(message, MESSAGE_FIELDS)
    return payload


def arrival_of(source: Source, message: Message | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"source": of_object(source, SOURCE_FIELDS)}
    if message is not None:
        payload["message"] = of_object(message, MESSAGE_FIELDS)
    return payload


def audit_of(event: AuditEvent) -> dict[str, Any]:
    return of_object(event, AUDIT_FIELDS)
